namespace BitNet.Models;

/// <summary>The layout a model was read from.</summary>
public enum ModelFileFormat
{
    /// <summary>A Hugging Face folder: config.json + model.safetensors (or a sharded index).</summary>
    HuggingFace,
    /// <summary>A GGUF file.</summary>
    Gguf,
}
