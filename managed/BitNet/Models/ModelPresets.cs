namespace BitNet.Models;

/// <summary>
/// Model shapes that <see cref="RandomModelWriter"/> builds (<c>bitnet create --preset</c>): bitnet-b1.58-2B-4T exactly
/// (BITNET_FACTS.md), and a tiny model of the same kind on the same Llama-3 vocabulary, so that the real tokenizer
/// fits it. Both: relu² FFN, RMSNorm eps 1e-5, RoPE theta 500000, context 4096, tied embedding, bos 128000, eos 128001
/// (and <c>&lt;|eot_id|&gt;</c> 128009 as a second stop token, <see cref="EndOfTurnTokenId"/>).
/// </summary>
public static class ModelPresets
{
    /// <summary>Llama-3's <c>&lt;|eot_id|&gt;</c>, where 2B4T's replies end.</summary>
    public const int EndOfTurnTokenId = 128009;

    /// <summary>The preset names, as <c>--preset</c> takes them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["2b4t", "tiny"];

    /// <summary>bitnet-b1.58-2B-4T: hidden 2560, 30 layers, 20 heads / 5 KV heads (head dim 128), FFN 6912, vocab 128256.</summary>
    public static ModelConfig BitNet2B4T { get; } = Llama3Vocabulary(hidden: 2560, layers: 30, heads: 20, kvHeads: 5, ffn: 6912);

    /// <summary>Tiny: hidden 256, 2 layers, 4 heads / 2 KV heads (head dim 64), FFN 768, on the 2B4T (Llama-3) vocabulary
    /// of 128256, so its embedding (128256 × 256) is most of it.</summary>
    public static ModelConfig Tiny { get; } = Llama3Vocabulary(hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 768);

    /// <summary>The preset called <paramref name="name"/> ("2b4t", "tiny"), or null.</summary>
    public static ModelConfig? Get(string name) => name.ToLowerInvariant() switch
    {
        "2b4t" => BitNet2B4T,
        "tiny" => Tiny,
        _ => null,
    };

    private static ModelConfig Llama3Vocabulary(int hidden, int layers, int heads, int kvHeads, int ffn) => new()
    {
        HiddenSize = hidden,
        IntermediateSize = ffn,
        LayerCount = layers,
        HeadCount = heads,
        KeyValueHeadCount = kvHeads,
        VocabSize = 128256,
        RmsNormEpsilon = 1e-5f,
        RopeTheta = 500000f,
        MaxPositionEmbeddings = 4096,
        BosTokenId = 128000,
        EosTokenIds = [128001],
        Activation = FfnActivation.ReluSquared,
        ActivationSource = "preset",
        TieWordEmbeddings = true,
        Quantization = null,
    };
}
