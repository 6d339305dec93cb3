using BitNet.Models;

namespace BitNet.Tests.Models;

public sealed class GgufBitNetMetadataTests
{
    private string _dir = "";

    [SetUp]
    public void MakeTempDir() => _dir = Directory.CreateTempSubdirectory("bn-gguf-").FullName;

    [TearDown]
    public void RemoveTempDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>The bitnet-tiny fixture's hyper-parameters (fixtures/README.md) under <paramref name="arch"/>.</summary>
    private static GgufWriter Tiny(string arch, Action<GgufWriter>? edit = null)
    {
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, arch);
        w.SetUInt32($"{arch}.context_length", 256);
        w.SetUInt32($"{arch}.embedding_length", 256);
        w.SetUInt32($"{arch}.block_count", 2);
        w.SetUInt32($"{arch}.feed_forward_length", 768);
        w.SetUInt32($"{arch}.attention.head_count", 4);
        w.SetUInt32($"{arch}.attention.head_count_kv", 2);
        w.SetFloat32($"{arch}.rope.freq_base", 500000f);
        w.SetFloat32($"{arch}.attention.layer_norm_rms_epsilon", 1e-5f);
        w.SetUInt32($"{arch}.vocab_size", 512);
        edit?.Invoke(w);
        return w;
    }

    private GgufBitNetMetadata Read(GgufWriter w)
    {
        string path = Path.Combine(_dir, "m.gguf");
        w.Save(path);
        using var f = GgufFile.Open(path);
        return GgufBitNetMetadata.Read(f);
    }

    private ModelFormatException Fails(GgufWriter w) => Assert.Throws<ModelFormatException>(() => Read(w))!;

    [TestCase("bitnet")]
    [TestCase("bitnet-b1.58")]
    [TestCase("bitnet-25")]
    public void ReadsTheHyperParametersOfEachArchitecture(string arch)
    {
        var m = Read(Tiny(arch));
        Assert.Multiple(() =>
        {
            Assert.That(m.Architecture, Is.EqualTo(arch));
            Assert.That(m.ContextLength, Is.EqualTo(256));
            Assert.That(m.EmbeddingLength, Is.EqualTo(256));
            Assert.That(m.BlockCount, Is.EqualTo(2));
            Assert.That(m.FeedForwardLength, Is.EqualTo(768));
            Assert.That(m.HeadCount, Is.EqualTo(4));
            Assert.That(m.HeadCountKv, Is.EqualTo(2));
            Assert.That(m.HeadDimension, Is.EqualTo(64));
            Assert.That(m.RopeFreqBase, Is.EqualTo(500000f));
            Assert.That(m.RmsNormEpsilon, Is.EqualTo(1e-5f));
            Assert.That(m.VocabSize, Is.EqualTo(512));
        });
    }

    [Test]
    public void ActivationKeyWins() =>
        Assert.That(Read(Tiny("bitnet", w => w.SetString("bitnet.hidden_activation", "relu2"))),
            Has.Property(nameof(GgufBitNetMetadata.Activation)).EqualTo(FfnActivation.ReluSquared)
                .And.Property(nameof(GgufBitNetMetadata.ActivationSource)).EqualTo(FfnActivationSource.MetadataKey));

    [Test]
    public void ActivationKeyCanSaySilu() =>
        Assert.That(Read(Tiny("bitnet-b1.58", w => w.SetString("bitnet-b1.58.hidden_activation", "silu"))).Activation,
            Is.EqualTo(FfnActivation.Silu));

    [TestCase("bitnet-b1.58")]
    [TestCase("bitnet-25")]
    public void BitNetCppArchitecturesAreReluSquared(string arch)
    {
        var m = Read(Tiny(arch));
        Assert.That((m.Activation, m.ActivationSource), Is.EqualTo((FfnActivation.ReluSquared, FfnActivationSource.Architecture)));
    }

    [Test]
    public void LlamaCppBitNetDefaultsToSilu()
    {
        var m = Read(Tiny("bitnet"));
        Assert.That((m.Activation, m.ActivationSource), Is.EqualTo((FfnActivation.Silu, FfnActivationSource.LlamaCppDefault)));
    }

    [Test]
    public void A2B4TShapedLlamaCppFileIsReluSquared()
    {
        var m = Read(Tiny("bitnet", w =>
        {
            w.SetUInt32("bitnet.embedding_length", 2560);
            w.SetUInt32("bitnet.block_count", 30);
            w.SetUInt32("bitnet.feed_forward_length", 6912);
            w.SetUInt32("bitnet.attention.head_count", 20);
            w.SetUInt32("bitnet.attention.head_count_kv", 5);
            w.SetUInt32("bitnet.vocab_size", 128256);
        }));
        Assert.That((m.Activation, m.ActivationSource, m.Is2B4TShaped),
            Is.EqualTo((FfnActivation.ReluSquared, FfnActivationSource.ModelShape, true)));
    }

    [Test]
    public void UnknownActivationIsRefused() =>
        Assert.That(Fails(Tiny("bitnet", w => w.SetString("bitnet.hidden_activation", "gelu"))).Problem,
            Does.Contain("'bitnet.hidden_activation' = 'gelu'"));

    [Test]
    public void DefaultsForOptionalKeys()
    {
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet");
        w.SetUInt32("bitnet.context_length", 4096);
        w.SetUInt32("bitnet.embedding_length", 64);
        w.SetUInt32("bitnet.block_count", 1);
        w.SetUInt32("bitnet.feed_forward_length", 128);
        w.SetUInt32("bitnet.attention.head_count", 4);
        w.SetFloat32("bitnet.attention.layer_norm_rms_epsilon", 1e-6f);
        w.SetStringArray(GgufKeys.Tokens, ["a", "b", "c"]);
        var m = Read(w);
        Assert.Multiple(() =>
        {
            Assert.That(m.HeadCountKv, Is.EqualTo(4));
            Assert.That(m.RopeFreqBase, Is.EqualTo(10000f));
            Assert.That(m.VocabSize, Is.EqualTo(3));
        });
    }

    [Test]
    public void VocabSizeFromTheEmbedding()
    {
        var x = new GgufWriter();
        foreach (string key in new[] { "context_length", "embedding_length", "block_count", "feed_forward_length" })
            x.SetUInt32($"bitnet.{key}", 256);
        x.SetString(GgufKeys.Architecture, "bitnet");
        x.SetUInt32("bitnet.attention.head_count", 4);
        x.SetFloat32("bitnet.attention.layer_norm_rms_epsilon", 1e-5f);
        x.AddTensor("token_embd.weight", GgufTypes.F16, [256, 300], new byte[256 * 300 * 2]);
        Assert.That(Read(x).VocabSize, Is.EqualTo(300));
    }

    [Test]
    public void MissingRequiredKeyIsNamed()
    {
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet-25");
        w.SetUInt32("bitnet-25.embedding_length", 256);
        w.SetUInt32("bitnet-25.attention.head_count", 4);
        Assert.That(Fails(w).Problem, Does.Contain("missing metadata key 'bitnet-25.context_length'"));
    }

    [Test]
    public void WrongTypeIsNamed() =>
        Assert.That(Fails(Tiny("bitnet", w => w.SetString("bitnet.block_count", "two"))).Problem,
            Does.Contain("'bitnet.block_count' is String"));

    [Test]
    public void InconsistentHeadsAreRefused() =>
        Assert.That(Fails(Tiny("bitnet", w => w.SetUInt32("bitnet.attention.head_count_kv", 3))).Problem,
            Does.Contain("not a multiple of the key/value head count 3"));

    [Test]
    public void OtherArchitecturesAreRefused() =>
        Assert.That(Fails(Tiny("llama")).Problem, Does.Contain("'llama' is not a BitNet architecture"));

    [Test]
    public void TheTinyPackedFixtureRoundTripsThroughGguf()
    {
        // HF names and row-major shapes in; GGUF names and ne-order dimensions on disk; the same bytes back out
        using var st = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed", "model.safetensors"));
        var w = Tiny("bitnet-b1.58");
        foreach (var t in st.Tensors)
        {
            var type = t.DType switch
            {
                DType.BF16 => GgufTypes.BF16,
                DType.U8 => GgufTypes.I8, // the HF 2B4T packing as raw bytes
                _ => throw new AssertionException($"unexpected dtype {t.DType}"),
            };
            w.AddTensor(GgufTensorNames.ToGguf(t.Name), type, t.Shape.Reverse().ToArray(), st.GetBytes(t).ToArray());
        }
        string path = Path.Combine(_dir, "tiny.gguf");
        w.Save(path);

        using var f = GgufFile.Open(path);
        var m = GgufBitNetMetadata.Read(f);
        Assert.That(f.Tensors, Has.Count.EqualTo(st.Tensors.Count));
        Assert.Multiple(() =>
        {
            Assert.That(m.Activation, Is.EqualTo(FfnActivation.ReluSquared));
            Assert.That(m.BlockCount, Is.EqualTo(2));
            Assert.That(f["blk.0.attn_k.weight"].Dimensions, Is.EqualTo(new long[] { 256, 128 / 4 }));
            foreach (var g in f.Tensors)
            {
                var t = st[GgufTensorNames.ToHf(g.Name)];
                Assert.That(g.Shape, Is.EqualTo(t.Shape), g.Name);
                Assert.That(g.FileOffset % f.Alignment, Is.Zero, g.Name);
                Assert.That(f.GetTensorBytes(g).SequenceEqual(st.GetBytes(t)), Is.True, g.Name);
            }
        });
    }
}
