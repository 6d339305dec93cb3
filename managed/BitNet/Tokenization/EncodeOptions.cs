namespace BitNet.Tokenization;

/// <summary>How <see cref="BpeTokenizer.Encode(string, EncodeOptions?)"/> treats its input.</summary>
public sealed record EncodeOptions
{
    /// <summary>The defaults: no BOS, special-token text is plain text.</summary>
    public static EncodeOptions Default { get; } = new();

    /// <summary>Put the tokenizer's BOS token first (<see cref="BpeTokenizer.BosId"/>; an error if it has
    /// none).</summary>
    public bool AddBos { get; init; }

    /// <summary>Treat the text of special tokens (<c>&lt;|eot_id|&gt;</c>) in the input as those tokens. Off by
    /// default, so text from a user cannot forge control tokens; a prompt template that means them turns it on or
    /// inserts their ids itself.</summary>
    public bool ParseSpecial { get; init; }
}
