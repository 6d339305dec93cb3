using System.Text;
using BitNet.Models;

namespace BitNet.Tests.Models;

/// <summary>config.json (HF) into <see cref="ModelConfig"/>: the fixtures, the variants real checkpoints use, and errors.</summary>
public sealed class ModelConfigTests
{
    private static ModelConfig Parse(string json) => ModelConfig.FromJson(Encoding.UTF8.GetBytes(json), "test-config.json");

    private const string Minimal = """
        { "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 100,
          "rms_norm_eps": 1e-6, "max_position_embeddings": 32, "hidden_act": "silu", "rope_theta": 10000.0 %EXTRA% }
        """;

    [Test]
    public void TinyMasterFixture()
    {
        var c = ModelConfig.FromJsonFile(RepositoryPaths.Fixture("bitnet-tiny", "master", "config.json"));
        Assert.Multiple(() =>
        {
            Assert.That((c.HiddenSize, c.IntermediateSize, c.LayerCount, c.HeadCount, c.KeyValueHeadCount, c.VocabSize),
                Is.EqualTo((256, 768, 2, 4, 2, 512)));
            Assert.That(c.HeadDimension, Is.EqualTo(64));
            Assert.That(c.KeyValueSize, Is.EqualTo(128));
            Assert.That(c.RmsNormEpsilon, Is.EqualTo(1e-5f));
            Assert.That(c.RopeTheta, Is.EqualTo(500000f), "from rope_parameters.rope_theta");
            Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(256));
            Assert.That(c.BosTokenId, Is.EqualTo(0));
            Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 1 }));
            Assert.That(c.Activation, Is.EqualTo(FfnActivation.ReluSquared));
            Assert.That(c.TieWordEmbeddings, Is.True);
            Assert.That(c.Quantization, Is.Null);
        });
    }

    [Test]
    public void PackedFixturesHaveAutoBitLinearOffline()
    {
        var tiny = ModelConfig.FromJsonFile(RepositoryPaths.Fixture("bitnet-tiny", "packed", "config.json"));
        var small = ModelConfig.FromJsonFile(RepositoryPaths.Fixture("bitnet-small", "packed", "config.json"));
        Assert.Multiple(() =>
        {
            Assert.That(tiny.Quantization, Is.EqualTo(new QuantizationConfig(LinearClass.AutoBitLinear, QuantizationMode.Offline)));
            Assert.That((small.HiddenSize, small.IntermediateSize, small.LayerCount, small.HeadCount, small.KeyValueHeadCount, small.VocabSize),
                Is.EqualTo((512, 1536, 4, 8, 2, 1024)));
            Assert.That(small.RopeTheta, Is.EqualTo(500000f));
            Assert.That(small.Quantization?.LinearClass, Is.EqualTo(LinearClass.AutoBitLinear));
        });
    }

    [Test]
    public void TopLevelRopeThetaEosArrayAndDefaults()
    {
        const string extra = """
            , "eos_token_id": [7, 9], "tie_word_embeddings": false,
            "quantization_config": { "quant_method": "bitnet", "linear_class": "bitlinear", "quantization_mode": "online" },
            "rope_parameters": { "rope_theta": 5.0 }
            """;
        var c = Parse(Minimal.Replace("%EXTRA%", extra));
        Assert.Multiple(() =>
        {
            Assert.That(c.RopeTheta, Is.EqualTo(10000f), "the top-level rope_theta wins");
            Assert.That(c.KeyValueHeadCount, Is.EqualTo(4), "num_key_value_heads defaults to the head count");
            Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 7, 9 }));
            Assert.That(c.BosTokenId, Is.Null);
            Assert.That(c.Activation, Is.EqualTo(FfnActivation.Silu));
            Assert.That(c.TieWordEmbeddings, Is.False);
            Assert.That(c.Quantization, Is.EqualTo(new QuantizationConfig(LinearClass.BitLinear, QuantizationMode.Online)));
        });
        var overridden = c.WithActivation(FfnActivation.ReluSquared);
        Assert.That((overridden.Activation, overridden.ActivationSource), Is.EqualTo((FfnActivation.ReluSquared, "override")));
    }

    [TestCase("\"hidden_size\": 64,", "", "missing 'hidden_size'")]
    [TestCase("\"silu\"", "\"gelu\"", "hidden_act 'gelu'")]
    [TestCase("\"rope_theta\": 10000.0", "\"x\": 1", "missing 'rope_theta'")]
    [TestCase("\"num_attention_heads\": 4", "\"num_attention_heads\": 5", "not a multiple of num_attention_heads")]
    [TestCase("\"vocab_size\": 100", "\"vocab_size\": \"100\"", "'vocab_size' = \"100\" is not a positive integer")]
    public void ErrorsNameTheProblem(string from, string to, string expected)
    {
        var e = Assert.Throws<ModelFormatException>(() => Parse(Minimal.Replace("%EXTRA%", "").Replace(from, to)));
        Assert.That(e!.Problem, Does.Contain(expected));
        Assert.That(e.FilePath, Is.EqualTo("test-config.json"));
    }

    [Test]
    public void UnknownLinearClassAndBadJson()
    {
        Assert.That(Assert.Throws<ModelFormatException>(() => Parse(Minimal.Replace("%EXTRA%", ", \"quantization_config\": { \"linear_class\": \"x\" }")))!.Problem,
            Does.Contain("linear_class 'x'"));
        Assert.That(Assert.Throws<ModelFormatException>(() => Parse("{ nope"))!.Problem, Does.Contain("not valid JSON"));
    }
}
