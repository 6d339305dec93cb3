using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using BitNet.Models;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Tests.Models;

/// <summary>
/// <see cref="BitNetModelFile"/> over every layout the fixtures come in (master, packed, sharded, GGUF TQ1_0 / TQ2_0 /
/// I2_S / F32 / F16): identical ternary codes and scales, the config's values, and one error per way a model can be broken.
/// </summary>
public sealed class BitNetModelFileTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-model-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static string TinyPacked => RepositoryPaths.Fixture("bitnet-tiny", "packed");
    private static string TinyMaster => RepositoryPaths.Fixture("bitnet-tiny", "master");

    private static float Bf16Round(float x) => FloatConvert.BF16ToSingle(FloatConvert.SingleToBF16(x));

    /// <summary>Codes identical and scales related by <paramref name="scaleOfA"/> in every projection; norms equal.</summary>
    private static void AssertSameTernary(BitNetModelFile a, BitNetModelFile b, Func<float, float>? scaleOfA = null, bool norms = true)
    {
        Assert.That(b.Layers, Has.Count.EqualTo(a.Layers.Count));
        for (int l = 0; l < a.Layers.Count; l++)
        {
            for (int i = 0; i < 7; i++)
            {
                TernaryTensor x = a.Layers[l].Projections[i], y = b.Layers[l].Projections[i];
                Assert.That((y.Rows, y.Cols), Is.EqualTo((x.Rows, x.Cols)), y.Name);
                Assert.That(y.GetCodes(), Is.EqualTo(x.GetCodes()), $"codes of {y.Name} ({y.StoredType}) vs {x.Name} ({x.StoredType})");
                Assert.That(y.Scale, Is.EqualTo(scaleOfA is null ? x.Scale : scaleOfA(x.Scale)), $"scale of {y.Name}");
            }
            if (!norms) continue;
            Assert.That(b.Layers[l].InputNorm, Is.EqualTo(a.Layers[l].InputNorm));
            Assert.That(b.Layers[l].PostAttentionNorm, Is.EqualTo(a.Layers[l].PostAttentionNorm));
            Assert.That(b.Layers[l].AttentionSubNorm, Is.EqualTo(a.Layers[l].AttentionSubNorm));
            Assert.That(b.Layers[l].FfnSubNorm, Is.EqualTo(a.Layers[l].FfnSubNorm));
        }
        if (norms) Assert.That(b.FinalNorm, Is.EqualTo(a.FinalNorm));
    }

    [Test]
    public void TinyMasterAndPackedGiveIdenticalCodes()
    {
        using var master = BitNetModelFile.Open(TinyMaster);
        using var packed = BitNetModelFile.Open(TinyPacked);
        // the packed checkpoint's weight_scale is the master's 1/s rounded to bf16
        AssertSameTernary(master, packed, Bf16Round, norms: false);
        TernaryTensor q = packed.Layers[0].Q, mq = master.Layers[0].Q;
        Assert.Multiple(() =>
        {
            Assert.That(packed.Format, Is.EqualTo(ModelFileFormat.HuggingFace));
            Assert.That(q.PackedFormat, Is.EqualTo(PackedFormat.Hf2B4T));
            Assert.That(q.PackedBytes.Length, Is.EqualTo(256 * 256 / 4));
            Assert.That(mq.PackedFormat, Is.Null);
            Assert.That(mq.StoredType, Is.EqualTo("F32"));
            Assert.That(mq.Scale, Is.Not.EqualTo(q.Scale), "the master's scale is not bf16-rounded");
            Assert.That(master.Layers[1].FfnSubNorm, Has.Length.EqualTo(768));
            Assert.That(packed.Layers[1].FfnSubNorm, Is.EqualTo(master.Layers[1].FfnSubNorm.Select(Bf16Round)));
            Assert.That(packed.Embedding.ToSingles(), Is.EqualTo(master.Embedding.ToSingles().Select(Bf16Round)));
            Assert.That(packed.LmHead, Is.Null);
            Assert.That(packed.OutputWeights, Is.SameAs(packed.Embedding));
            Assert.That(packed.Tokenizer, Is.Not.Null);
            Assert.That(packed.Tensors.Single(t => t.Name == "model.layers.0.self_attn.k_proj.weight"),
                Is.EqualTo(new StoredTensor("model.layers.0.self_attn.k_proj.weight", "U8", [32, 256], 32 * 256)).Using<StoredTensor>(
                    (x, y) => x.Name == y.Name && x.Type == y.Type && x.Shape.SequenceEqual(y.Shape) && x.ByteLength == y.ByteLength));
        });
    }

    [Test]
    public void SmallPackedScalesAreTheStoredWeightScale()
    {
        string folder = RepositoryPaths.Fixture("bitnet-small", "packed");
        using var model = BitNetModelFile.Open(folder);
        using var raw = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Assert.That(model.Config.LayerCount, Is.EqualTo(4));
        Assert.That(model.Layers, Has.Count.EqualTo(4));
        foreach (var layer in model.Layers)
            foreach (var p in layer.Projections)
            {
                string scaleName = p.Name.Replace(".weight", ".weight_scale", StringComparison.Ordinal);
                float stored = FloatConvert.BF16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.GetBytes(scaleName)));
                Assert.That(p.Scale, Is.EqualTo(stored), p.Name);
                sbyte[] codes = p.GetCodes();
                Assert.That(codes.Distinct().Order(), Is.EqualTo(new sbyte[] { -1, 0, 1 }), p.Name);
                Assert.That(p.PackedBytes.SequenceEqual(raw.GetBytes(p.Name)), Is.True, "the packed bytes are the stored ones");
            }
        Assert.That(model.Layers[3].Down.Rows, Is.EqualTo(512));
        Assert.That(model.Layers[3].Down.Cols, Is.EqualTo(1536));
        Assert.That(model.Layers[0].K.Rows, Is.EqualTo(128));
    }

    /// <summary>Models reached through symbolic links (a linked GGUF file, a folder of linked safetensors files) open
    /// as the files themselves do: the length of a link is not the length of its target.</summary>
    [Test]
    public void SymlinkedModelFilesOpenLikeTheirTargets()
    {
        string gguf = Path.Combine(_temp, "tiny.gguf");
        using (var packed = BitNetModelFile.Open(TinyPacked))
            GgufModelWriter.Write(packed, gguf, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ2_0 });
        string ggufLink = Path.Combine(_temp, "link.gguf");
        File.CreateSymbolicLink(ggufLink, gguf);
        string folder = Path.Combine(_temp, "linked-master");
        Directory.CreateDirectory(folder);
        foreach (string f in Directory.GetFiles(TinyMaster))
            File.CreateSymbolicLink(Path.Combine(folder, Path.GetFileName(f)), f);
        using (var direct = BitNetModelFile.Open(gguf))
        using (var linked = BitNetModelFile.Open(ggufLink))
            Assert.That(linked.Layers[1].Projections[2].GetCodes(), Is.EqualTo(direct.Layers[1].Projections[2].GetCodes()));
        using (var direct = BitNetModelFile.Open(TinyMaster))
        using (var linked = BitNetModelFile.Open(folder))
            Assert.That(linked.Layers[0].Projections[0].GetCodes(), Is.EqualTo(direct.Layers[0].Projections[0].GetCodes()));
    }

    [TestCase(TernaryFileType.TQ2_0, "TQ2_0")]
    [TestCase(TernaryFileType.TQ1_0, "TQ1_0")]
    [TestCase(TernaryFileType.I2_S, "I2_S")]
    [TestCase(TernaryFileType.F32, "F32")]
    [TestCase(TernaryFileType.F16, "F16")]
    public void GgufFromPackedLoadsToIdenticalCodesAndScales(TernaryFileType type, string typeName)
    {
        using var packed = BitNetModelFile.Open(TinyPacked);
        string gguf = Path.Combine(_temp, $"tiny-{typeName}.gguf");
        GgufModelWriter.Write(packed, gguf, new GgufModelWriterOptions { TernaryType = type, I2SLayout = PackedFormat.I2SX86 });
        Assert.That(Directory.GetFiles(_temp), Is.EqualTo(new[] { gguf }), "no temporary file is left behind");

        using (var file = GgufFile.Open(gguf))
        {
            string arch = type == TernaryFileType.I2_S ? "bitnet-b1.58" : "bitnet";
            Assert.Multiple(() =>
            {
                Assert.That(file.Architecture, Is.EqualTo(arch));
                Assert.That(file.GetString($"{arch}.hidden_activation"), Is.EqualTo("relu2"));
                Assert.That(file["blk.0.attn_q.weight"].Type.Name, Is.EqualTo(typeName));
                Assert.That(file["blk.0.attn_k.weight"].Dimensions, Is.EqualTo(new long[] { 256, 128 }), "GGUF order: [in, out]");
                Assert.That(file["blk.1.ffn_down.weight"].Dimensions, Is.EqualTo(new long[] { 768, 256 }));
                Assert.That(file["blk.0.attn_norm.weight"].Type, Is.EqualTo(GgufTypes.F32));
                Assert.That(file["token_embd.weight"].Type, Is.EqualTo(GgufTypes.F16));
                Assert.That(file.ContainsTensor("output.weight"), Is.False);
            });
        }

        using var loaded = BitNetModelFile.Open(gguf, new ModelLoadOptions { I2SLayout = PackedFormat.I2SX86 });
        AssertSameTernary(packed, loaded);
        ModelConfig c = loaded.Config, p = packed.Config;
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Format, Is.EqualTo(ModelFileFormat.Gguf));
            Assert.That((c.HiddenSize, c.IntermediateSize, c.LayerCount, c.HeadCount, c.KeyValueHeadCount, c.VocabSize, c.MaxPositionEmbeddings),
                Is.EqualTo((p.HiddenSize, p.IntermediateSize, p.LayerCount, p.HeadCount, p.KeyValueHeadCount, p.VocabSize, p.MaxPositionEmbeddings)));
            Assert.That((c.RopeTheta, c.RmsNormEpsilon, c.BosTokenId), Is.EqualTo((500000f, 1e-5f, (int?)0)));
            Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 1 }));
            Assert.That((c.Activation, c.ActivationSource), Is.EqualTo((FfnActivation.ReluSquared, "GGUF MetadataKey")));
            Assert.That(c.TieWordEmbeddings, Is.True);
            Assert.That(loaded.Layers[0].Q.StoredType, Is.EqualTo(type == TernaryFileType.I2_S ? "I2_S_X86" : typeName));
            // bf16 values of this size are exact in fp16
            Assert.That(loaded.Embedding.Type, Is.EqualTo(EmbeddingType.F16));
            Assert.That(loaded.Embedding.ToSingles(), Is.EqualTo(packed.Embedding.ToSingles()).Within(1e-7f));
        });
        if (type is TernaryFileType.TQ1_0 or TernaryFileType.TQ2_0 or TernaryFileType.I2_S)
            Assert.That(loaded.Layers[0].Q.PackedBytes.Length, Is.EqualTo((int)loaded.Layers[0].Q.PackedFormat!.PackedSize(256, 256)));

        // the tokenizer travels as tokenizer.ggml.* and encodes the reference text as tokenizer.json does
        using var reference = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "reference-master.safetensors"));
        string text = reference.Metadata["text"];
        var opts = new EncodeOptions { AddBos = true };
        Assert.That(loaded.Tokenizer!.Encode(text, opts), Is.EqualTo(packed.Tokenizer!.Encode(text, opts)));
        Assert.That(loaded.Tokenizer.Encode(text, opts), Is.EqualTo(MemoryMarshal.Cast<byte, int>(reference.GetBytes("input_ids")).ToArray()));
    }

    [Test]
    public void GgufEmbeddingAsQ8_0AndActivationOverride()
    {
        using var packed = BitNetModelFile.Open(TinyPacked);
        string gguf = Path.Combine(_temp, "q8.gguf");
        GgufModelWriter.Write(packed, gguf, new GgufModelWriterOptions { EmbeddingType = EmbeddingType.Q8_0 });
        using var loaded = BitNetModelFile.Open(gguf, new ModelLoadOptions { Activation = FfnActivation.Silu });
        float[] want = packed.Embedding.ToSingles(), got = loaded.Embedding.ToSingles();
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Embedding.Type, Is.EqualTo(EmbeddingType.Q8_0));
            Assert.That(loaded.Embedding.RowBytes, Is.EqualTo(256 / 32 * 34));
            Assert.That((loaded.Config.Activation, loaded.Config.ActivationSource), Is.EqualTo((FfnActivation.Silu, "override")));
        });
        for (int r = 0; r < packed.Config.VocabSize; r++)
        {
            var row = want.AsSpan(r * 256, 256);
            for (int b = 0; b < 8; b++)
            {
                float amax = 0;
                foreach (float v in row.Slice(b * 32, 32)) amax = MathF.Max(amax, MathF.Abs(v));
                // half a step, plus the fp16 rounding of d times up to 127 (127 * 2^-11 of a step)
                for (int j = 0; j < 32; j++)
                    Assert.That(got[r * 256 + b * 32 + j], Is.EqualTo(row[b * 32 + j]).Within(amax / 127f * 0.57f + 1e-6f));
            }
        }
        var one = new float[256];
        loaded.Embedding.GetRow(5, one);
        Assert.That(one, Is.EqualTo(got.AsSpan(5 * 256, 256).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => loaded.Embedding.GetRow(512, one));
    }

    [Test]
    public void Q6KRowsDecodeAsGgmlLaysThemOut()
    {
        // one block: d = 0.5, scales[g] = g + 1, code of value i = i % 64 (so value = 0.5 * (i/16 + 1) * (i % 64 - 32))
        var block = new byte[210];
        for (int i = 0; i < 256; i++)
        {
            int q = i % 64, half = i / 128, k = i % 128, l = k % 32, quarter = k / 32;
            int qlIndex = half * 64 + l + (quarter is 1 or 3 ? 32 : 0);
            block[qlIndex] |= (byte)((q & 0xF) << (quarter >= 2 ? 4 : 0));
            block[128 + half * 32 + l] |= (byte)((q >> 4) << (2 * quarter));
        }
        for (int g = 0; g < 16; g++) block[192 + g] = (byte)(g + 1);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(208), BitConverter.HalfToUInt16Bits((Half)0.5f));
        var y = new float[256];
        EmbeddingTypes.Dequantize(EmbeddingType.Q6_K, block, y);
        Assert.That(y, Is.EqualTo(Enumerable.Range(0, 256).Select(i => 0.5f * (i / 16 + 1) * (i % 64 - 32))));
    }

    [Test]
    public void ShardedFolderLoadsIdentically()
    {
        string folder = Path.Combine(_temp, "sharded");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(TinyPacked, "config.json"), Path.Combine(folder, "config.json"));
        using (var src = SafetensorsFile.Open(Path.Combine(TinyPacked, "model.safetensors")))
        {
            var shards = new[] { new SafetensorsWriter(), new SafetensorsWriter() };
            var map = new StringBuilder("{ \"metadata\": {}, \"weight_map\": {");
            for (int i = 0; i < src.Tensors.Count; i++)
            {
                TensorInfo t = src.Tensors[i];
                shards[i % 2].Add(t.Name, t.DType, t.Shape, src.GetBytes(t).ToArray());
                map.Append(i == 0 ? "" : ",").Append($"\"{t.Name}\": \"model-0000{i % 2 + 1}-of-00002.safetensors\"");
            }
            shards[0].Save(Path.Combine(folder, "model-00001-of-00002.safetensors"));
            shards[1].Save(Path.Combine(folder, "model-00002-of-00002.safetensors"));
            File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), map.Append("} }").ToString());
        }
        using var packed = BitNetModelFile.Open(TinyPacked);
        using var sharded = BitNetModelFile.Open(folder);
        AssertSameTernary(packed, sharded);
        Assert.That(sharded.Embedding.ToSingles(), Is.EqualTo(packed.Embedding.ToSingles()));
        Assert.That(sharded.Tokenizer, Is.Null, "no tokenizer.json in this folder");
        Assert.That(sharded.Tensors.Select(t => t.Name).Order(), Is.EqualTo(packed.Tensors.Select(t => t.Name).Order()));

        // an index that points to a shard that is not there
        File.Delete(Path.Combine(folder, "model-00002-of-00002.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => BitNetModelFile.Open(folder));
        Assert.That(e!.Problem, Does.Contain("shard 'model-00002-of-00002.safetensors'").And.Contain("does not exist"));
        Assert.That(e.FilePath, Does.EndWith("model.safetensors.index.json"));
    }

    // A copy of tiny packed with the config edited and the tensors filtered or replaced.
    private string BrokenCopy(string name, Func<string, string>? config = null, Func<TensorInfo, bool>? keep = null,
                              Func<TensorInfo, (DType, long[], byte[])?>? replace = null, bool withConfig = true)
    {
        string folder = Path.Combine(_temp, name);
        Directory.CreateDirectory(folder);
        if (withConfig)
            File.WriteAllText(Path.Combine(folder, "config.json"),
                (config ?? (s => s))(File.ReadAllText(Path.Combine(TinyPacked, "config.json"))));
        using var src = SafetensorsFile.Open(Path.Combine(TinyPacked, "model.safetensors"));
        var w = new SafetensorsWriter();
        foreach (TensorInfo t in src.Tensors)
        {
            if (keep is not null && !keep(t)) continue;
            if (replace?.Invoke(t) is var (dtype, shape, data)) w.Add(t.Name, dtype, shape, data);
            else w.Add(t.Name, t.DType, t.Shape, src.GetBytes(t).ToArray());
        }
        w.Save(Path.Combine(folder, "model.safetensors"));
        return folder;
    }

    private static ModelFormatException Broken(string path) => Assert.Throws<ModelFormatException>(() => BitNetModelFile.Open(path))!;

    [Test]
    public void MissingConfigJson()
    {
        string folder = BrokenCopy("no-config", withConfig: false);
        var e = Broken(folder);
        Assert.That(e.Problem, Does.Contain("missing config.json"));
        Assert.That(e.FilePath, Is.EqualTo(folder));
    }

    [Test]
    public void MissingWeights()
    {
        string folder = Path.Combine(_temp, "no-weights");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(TinyPacked, "config.json"), Path.Combine(folder, "config.json"));
        Assert.That(Broken(folder).Problem, Does.Contain("missing model.safetensors"));
    }

    [Test]
    public void MissingTensor()
    {
        string folder = BrokenCopy("missing", keep: t => t.Name != "model.layers.1.mlp.down_proj.weight");
        Assert.That(Broken(folder).Problem, Is.EqualTo("missing tensor 'model.layers.1.mlp.down_proj.weight'"));
        folder = BrokenCopy("missing-scale", keep: t => t.Name != "model.layers.0.self_attn.v_proj.weight_scale");
        Assert.That(Broken(folder).Problem, Is.EqualTo("missing tensor 'model.layers.0.self_attn.v_proj.weight_scale'"));
        folder = BrokenCopy("missing-norm", keep: t => t.Name != "model.norm.weight");
        Assert.That(Broken(folder).Problem, Is.EqualTo("missing tensor 'model.norm.weight'"));
    }

    [Test]
    public void ShapeThatDisagreesWithTheConfig()
    {
        string folder = BrokenCopy("ffn", config: s => s.Replace("\"intermediate_size\": 768", "\"intermediate_size\": 512", StringComparison.Ordinal));
        var e = Broken(folder);
        Assert.That(e.Problem, Does.Contain("model.layers.0.mlp.gate_proj.weight").And.Contain("[192, 256]").And.Contain("disagrees with the config"));
        folder = BrokenCopy("vocab", config: s => s.Replace("\"vocab_size\": 512", "\"vocab_size\": 500", StringComparison.Ordinal));
        Assert.That(Broken(folder).Problem, Does.Contain("model.embed_tokens.weight").And.Contain("[512, 256]").And.Contain("[500, 256]"));
    }

    [Test]
    public void UnknownTensorType()
    {
        string folder = BrokenCopy("i32", replace: t => t.Name == "model.layers.0.self_attn.q_proj.weight"
            ? (DType.I32, new long[] { 16, 256 }, new byte[16 * 256 * 4]) : null);
        Assert.That(Broken(folder).Problem, Does.Contain("q_proj.weight': type I32 is not a projection weight type"));
        folder = BrokenCopy("no-quant-config", config: s => s[..s.IndexOf(",\n  \"quantization_config\"", StringComparison.Ordinal)] + "\n}");
        Assert.That(Broken(folder).Problem, Does.Contain("no quantization_config"));
    }

    [Test]
    public void BitLinearWeightScaleDivides()
    {
        // the same bytes under linear_class bitlinear mean W = codes / weight_scale (BITNET_FACTS.md)
        string folder = BrokenCopy("bitlinear", config: s => s.Replace("\"autobitlinear\"", "\"bitlinear\"", StringComparison.Ordinal));
        using var auto = BitNetModelFile.Open(TinyPacked);
        using var divides = BitNetModelFile.Open(folder);
        Assert.That(divides.Config.Quantization?.LinearClass, Is.EqualTo(LinearClass.BitLinear));
        AssertSameTernary(auto, divides, w => 1f / w);
    }

    [Test]
    public void NothingThere()
    {
        Assert.Throws<FileNotFoundException>(() => BitNetModelFile.Open(Path.Combine(_temp, "nope")));
    }

    [Test]
    public void GgufMissingTensorAndDifferingBlockScales()
    {
        using var packed = BitNetModelFile.Open(TinyPacked);
        string good = Path.Combine(_temp, "good.gguf");
        GgufModelWriter.Write(packed, good, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ2_0 });

        string missing = Path.Combine(_temp, "missing.gguf");
        using (var f = GgufFile.Open(good))
        {
            var w = new GgufWriter();
            foreach (string k in f.Keys) w.Set(k, f.Metadata[k]);
            foreach (var t in f.Tensors.Where(t => t.Name != "blk.1.attn_v.weight"))
                w.AddTensor(t.Name, t.Type, t.Dimensions, f.GetTensorBytes(t).ToArray());
            w.Save(missing);
        }
        var e = Broken(missing);
        Assert.That((e.Problem, e.FilePath), Is.EqualTo(("missing tensor 'blk.1.attn_v.weight'", missing)));

        // a TQ2_0 tensor whose blocks carry different d is not per-tensor ternary: refused, naming the blocks
        string mixed = Path.Combine(_temp, "mixed.gguf");
        long offset;
        using (var f = GgufFile.Open(good)) offset = f["blk.0.attn_q.weight"].FileOffset;
        byte[] bytes = File.ReadAllBytes(good);
        float d0 = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)offset + 64)));
        Assert.That(d0, Is.EqualTo(packed.Layers[0].Q.Scale).Within(0f), "block 0 has d = w");
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)offset + 66 + 64), BitConverter.HalfToUInt16Bits((Half)(d0 * 2)));
        File.WriteAllBytes(mixed, bytes);
        // Opening reads no tensor data, so it succeeds; the scale, the codes, a conversion and loading to run refuse it
        const string differ = "blk.0.attn_q.weight': blocks 0 and 1 have different scales";
        using (var opened = BitNetModelFile.Open(mixed))
        {
            TernaryTensor q = opened.Layers[0].Q;
            Assert.That(Assert.Throws<ModelFormatException>(() => _ = q.Scale)!.Problem, Does.Contain(differ), "Scale");
            Assert.That(Assert.Throws<ModelFormatException>(() => q.GetCodes())!.Problem, Does.Contain(differ), "GetCodes");
            Assert.That(opened.Layers[0].K.Scale, Is.EqualTo(packed.Layers[0].K.Scale), "the other tensors are fine");
        }
        foreach (PackedFormat to in new[] { PackedFormat.I2SX86, PackedFormat.Tq1_0, PackedFormat.Hf2B4T })
        {
            using var opened = BitNetModelFile.Open(mixed);
            e = Assert.Throws<ModelFormatException>(() => opened.Layers[0].Q.ConvertTo(to).Dispose())!;
            Assert.That(e.FilePath, Is.EqualTo(mixed));
            Assert.That(e.Problem, Does.Contain(differ).And.Contain("only per-tensor ternary weights"), $"into {to}");
        }
        e = Assert.Throws<ModelFormatException>(() => BitNet.Inference.BitNetModel.Load(mixed).Dispose())!;
        Assert.That(e.Problem, Does.Contain(differ), "loading to run converts it to I2_S x86, which checks it");
        using (var opened = BitNetModelFile.Open(mixed))
        {
            e = Assert.Throws<ModelFormatException>(() => GgufModelWriter.Write(opened, Path.Combine(_temp, "out.gguf"),
                new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ2_0 }))!;
            Assert.That(e.Problem, Does.Contain(differ), "converting TQ2_0 to TQ2_0 checks it too (block for block would keep both d)");
        }
        Assert.That(File.Exists(Path.Combine(_temp, "out.gguf")), Is.False, "no partial file");
    }

    /// <summary>Opening a GGUF model reads none of its tensor data: a file whose every data byte is 0xFF (TQ/I2_S codes
    /// no packer writes, NaN block d and I2_S scales, NaN norms) opens and lists, and fails only where data is used.</summary>
    [TestCase(TernaryFileType.TQ2_0)]
    [TestCase(TernaryFileType.TQ1_0)]
    [TestCase(TernaryFileType.I2_S)]
    public void OpeningReadsNoTensorData(TernaryFileType type)
    {
        using var packed = BitNetModelFile.Open(TinyPacked);
        string good = Path.Combine(_temp, "good.gguf");
        GgufModelWriter.Write(packed, good, new GgufModelWriterOptions { TernaryType = type, I2SLayout = PackedFormat.I2SX86 });
        long dataStart;
        List<(string, string, long)> listing;
        using (var f = GgufFile.Open(good))
        {
            dataStart = f.Tensors.Min(t => t.FileOffset);
            listing = f.Tensors.Select(t => (t.Name, t.Type.Name, t.ByteLength)).ToList();
        }
        byte[] bytes = File.ReadAllBytes(good);
        bytes.AsSpan((int)dataStart).Fill(0xFF);
        string poisoned = Path.Combine(_temp, "poisoned.gguf");
        File.WriteAllBytes(poisoned, bytes);

        var options = new ModelLoadOptions { I2SLayout = PackedFormat.I2SX86 };
        using (var model = BitNetModelFile.Open(poisoned, options))
        {
            Assert.That(model.Tensors.Select(t => (t.Name, t.Type, t.ByteLength)), Is.EqualTo(listing), "the listing comes from the header");
            Assert.That(model.Layers[1].Down.StoredType, Is.EqualTo(type == TernaryFileType.I2_S ? "I2_S_X86" : type.ToString()));
            Assert.That(float.IsNaN(model.FinalNorm[0]), "a norm is read when asked for: NaN from the 0xFF bytes");
            var e = Assert.Throws<ModelFormatException>(() => _ = model.Layers[0].Q.Scale)!;
            Assert.That(e.Problem, Does.StartWith("tensor 'blk.0.attn_q.weight': "));
            Assert.That(e.FilePath, Is.EqualTo(poisoned));
        }
        var load = Assert.Throws<ModelFormatException>(() =>
            BitNet.Inference.BitNetModel.Load(poisoned, new BitNet.Inference.ModelOptions { FileOptions = options }).Dispose())!;
        Assert.That(load.Problem, Does.StartWith("tensor 'blk.0.attn_q.weight': "), "loading to run reads the first projection and refuses it");
    }
}
