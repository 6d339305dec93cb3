namespace BitNet.Inference.Sampling;

/// <summary>Why a generation ended.</summary>
public enum StopReason
{
    /// <summary>It has not ended (still streaming).</summary>
    None,
    /// <summary><see cref="GenerationOptions.MaxTokens"/> tokens were generated.</summary>
    MaxTokens,
    /// <summary>A stop token was sampled.</summary>
    StopToken,
    /// <summary>A stop string appeared in the text.</summary>
    StopString,
    /// <summary>The KV cache is full.</summary>
    ContextFull,
    /// <summary>The caller cancelled or abandoned the stream; the session was rolled back.</summary>
    Cancelled,
}

/// <summary>What a generation produced and how fast: token counts and the prefill / decode rates.</summary>
public sealed record GenerationResult
{
    /// <summary>Tokens of the prompt (BOS included when added).</summary>
    public int PromptTokens { get; init; }

    /// <summary>The generated token ids (a final stop token included).</summary>
    public IReadOnlyList<int> TokenIds { get; init; } = [];

    /// <summary>Tokens generated (the length of <see cref="TokenIds"/>).</summary>
    public int GeneratedTokens => TokenIds.Count;

    /// <summary>The text streamed (stop strings and stop tokens excluded).</summary>
    public string Text { get; init; } = string.Empty;

    /// <summary>Why it ended.</summary>
    public StopReason StopReason { get; init; }

    /// <summary>The seed the sampler used.</summary>
    public ulong Seed { get; init; }

    /// <summary>Time of the prompt's forward pass (up to the first token's logits).</summary>
    public TimeSpan PrefillTime { get; init; }

    /// <summary>Time of the decode steps (one forward pass per generated token after the first).</summary>
    public TimeSpan DecodeTime { get; init; }

    /// <summary>Decode forward passes run.</summary>
    public int DecodeSteps { get; init; }

    /// <summary>Prompt tokens per second of prefill.</summary>
    public double PrefillTokensPerSecond => PrefillTime > TimeSpan.Zero ? PromptTokens / PrefillTime.TotalSeconds : 0;

    /// <summary>Decode steps per second.</summary>
    public double DecodeTokensPerSecond => DecodeTime > TimeSpan.Zero ? DecodeSteps / DecodeTime.TotalSeconds : 0;
}
