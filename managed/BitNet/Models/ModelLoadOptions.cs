namespace BitNet.Models;

/// <summary>How <see cref="BitNetModelFile.Open"/> reads a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>The default options.</summary>
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>Overrides the FFN activation the file states or implies (null: keep it).</summary>
    public FfnActivation? Activation { get; init; }

    /// <summary>The layout of I2_S tensors (<see cref="Quantization.PackedFormat.I2SX86"/> or
    /// <see cref="Quantization.PackedFormat.I2SArm"/>), which GGUF files do not record. Null: not known;
    /// <see cref="BitNetModelFile.Open"/> then reads them in the host's layout (<see cref="BitNetModelFile.I2SLayoutAssumed"/>)
    /// and <c>BitNet.Inference.BitNetModel.Load</c> detects it by running a probe text through both.</summary>
    public Quantization.PackedFormat? I2SLayout { get; init; }

    /// <summary>Whether to read the tokenizer (tokenizer.json or the GGUF arrays) when the file has one (default true).</summary>
    public bool LoadTokenizer { get; init; } = true;
}
