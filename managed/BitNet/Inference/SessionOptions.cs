namespace BitNet.Inference;

/// <summary>The element type of a session's KV cache.</summary>
public enum KvCacheType
{
    /// <summary>float32 (the default; exact).</summary>
    F32,
    /// <summary>IEEE half: half the memory, keys and values rounded to fp16.</summary>
    F16,
}

/// <summary>Which rows of logits a forward pass returns.</summary>
public enum LogitsMode
{
    /// <summary>None (a prefill whose logits are not needed).</summary>
    None,
    /// <summary>One row per token: (tokens, vocab).</summary>
    All,
    /// <summary>The last token's row only: (1, vocab).</summary>
    Last,
}

/// <summary>How <see cref="BitNetModel.CreateSession"/> sets up a session.</summary>
public sealed record SessionOptions
{
    /// <summary>The default options.</summary>
    public static SessionOptions Default { get; } = new();

    /// <summary>Positions the KV cache holds (0: the model's <c>max_position_embeddings</c>).</summary>
    public int ContextSize { get; init; }

    /// <summary>The KV cache element type (default F32).</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F32;

    /// <summary>Tokens per native pass; longer inputs run in chunks (0: 512, at most the context size).</summary>
    public int MaxBatch { get; init; }

    /// <summary>Threads running the forward pass, the caller included (null: <see cref="DefaultThreadCount"/>). Results do
    /// not depend on it.</summary>
    public int? Threads { get; init; }

    /// <summary>Where the KV cache and scratch are allocated (null: <see cref="NativeMemoryPool.Shared"/>).</summary>
    public NativeMemoryPool? Pool { get; init; }

    /// <summary>One thread per physical core: the logical cores this process may use, halved where Linux reports SMT
    /// (hyper-threads share a core's vector units and memory bandwidth, so they do not speed up ternary matmuls).</summary>
    public static int DefaultThreadCount
    {
        get
        {
            int logical = Math.Max(1, Environment.ProcessorCount);
            try
            {
                if (OperatingSystem.IsLinux() && logical > 1 &&
                    System.IO.File.Exists("/sys/devices/system/cpu/smt/active") &&
                    System.IO.File.ReadAllText("/sys/devices/system/cpu/smt/active").Trim() == "1")
                    return Math.Max(1, logical / 2);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            return logical;
        }
    }
}
