namespace BitNet.Tokenization;

/// <summary>A token matched as a whole string before BPE runs: the special tokens (<c>&lt;|eot_id|&gt;</c>) and
/// any non-special added tokens of a tokenizer.json (<c>added_tokens</c>) or GGUF file (types CONTROL and
/// USER_DEFINED).</summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">Its text.</param>
/// <param name="IsSpecial">A special (control) token: found in input only with
/// <see cref="EncodeOptions.ParseSpecial"/>, skipped by decoding when asked to. Non-special added tokens are
/// always found, as in HF tokenizers and llama.cpp.</param>
public sealed record AddedToken(int Id, string Content, bool IsSpecial);
