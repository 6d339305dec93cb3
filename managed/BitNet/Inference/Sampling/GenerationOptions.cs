namespace BitNet.Inference.Sampling;

/// <summary>How <see cref="InferenceSession.GenerateAsync(string, GenerationOptions?, CancellationToken)"/> picks and
/// stops tokens. The sampler applies, in order: repetition / presence / frequency penalties over the last
/// <see cref="PenaltyLastN"/> tokens, then (unless greedy) top-k, temperature, top-p and min-p, and draws from what is left.</summary>
public sealed record GenerationOptions
{
    /// <summary>The default options.</summary>
    public static GenerationOptions Default { get; } = new();

    /// <summary>The most tokens to generate (default 64).</summary>
    public int MaxTokens { get; init; } = 64;

    /// <summary>Softmax temperature (default 0.8); 0 or less is greedy (argmax).</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep the k most likely tokens (default 40; 0 or less: all). 1 is greedy.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>Keep the smallest set of most likely tokens whose probability sums to at least p (default 0.95; 1: all).</summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drop tokens whose probability is below this fraction of the most likely one's (default 0.05; 0: none).</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>The repetition penalty of CTRL / llama.cpp (default 1: off): a recent token's logit is divided by it when
    /// positive and multiplied by it when negative.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Subtracted once from the logit of every recent token (default 0: off).</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Subtracted from a recent token's logit once per occurrence (default 0: off).</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>How many of the last tokens (prompt included) the penalties look at (default 64; 0: none, -1: all).</summary>
    public int PenaltyLastN { get; init; } = 64;

    /// <summary>The seed of the sampler's generator; equal seeds give equal output (null: a random seed).</summary>
    public ulong? Seed { get; init; }

    /// <summary>Whether the tokenizer's stop tokens (<see cref="Tokenization.BpeTokenizer.StopTokenIds"/>, e.g. eos,
    /// &lt;|eot_id|&gt;) end generation (default true). The stop token itself is not returned as text.</summary>
    public bool StopAtStopTokens { get; init; } = true;

    /// <summary>Extra token ids that end generation.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Strings that end generation; the text is cut before the first one (it is not returned).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>For a text prompt: prepend the tokenizer's BOS when it has one (default true).</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>For a text prompt: special-token text (e.g. &lt;|eot_id|&gt; of a chat template) becomes those tokens
    /// (default true).</summary>
    public bool ParseSpecial { get; init; } = true;

    /// <summary>Whether this picks the argmax (temperature ≤ 0 or top-k 1).</summary>
    public bool IsGreedy => Temperature <= 0 || TopK == 1;
}
