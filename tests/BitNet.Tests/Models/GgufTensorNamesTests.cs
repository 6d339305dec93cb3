using BitNet.Models;

namespace BitNet.Tests.Models;

public sealed class GgufTensorNamesTests
{
    [Test]
    public void EveryTensorOfTheTinyPackedFixtureMapsBothWays()
    {
        using var st = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed", "model.safetensors"));
        Assert.That(st.Tensors, Has.Count.EqualTo(38));
        var ggufNames = new HashSet<string>();
        foreach (var t in st.Tensors)
        {
            Assert.That(GgufTensorNames.TryToGguf(t.Name, out string? gguf), Is.True, t.Name);
            Assert.That(GgufTensorNames.ToHf(gguf!), Is.EqualTo(t.Name));
            Assert.That(ggufNames.Add(gguf!), Is.True, $"{gguf} mapped twice");
        }
        Assert.Multiple(() =>
        {
            Assert.That(ggufNames, Does.Contain("token_embd.weight"));
            Assert.That(ggufNames, Does.Contain("output_norm.weight"));
            Assert.That(ggufNames, Does.Contain("blk.1.attn_sub_norm.weight"));
            Assert.That(ggufNames, Does.Contain("blk.1.ffn_sub_norm.weight"));
            Assert.That(ggufNames, Does.Contain("blk.0.ffn_down.scale"));
            Assert.That(ggufNames.Count(n => n.StartsWith("blk.", StringComparison.Ordinal)), Is.EqualTo(2 * 18));
        });
    }

    [TestCase("token_embd.weight", "model.embed_tokens.weight")]
    [TestCase("output_norm.weight", "model.norm.weight")]
    [TestCase("output.weight", "lm_head.weight")]
    [TestCase("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight")]
    [TestCase("blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight")]
    [TestCase("blk.3.attn_k.weight", "model.layers.3.self_attn.k_proj.weight")]
    [TestCase("blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight")]
    [TestCase("blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight")]
    [TestCase("blk.29.attn_sub_norm.weight", "model.layers.29.self_attn.attn_sub_norm.weight")]
    [TestCase("blk.3.ffn_norm.weight", "model.layers.3.post_attention_layernorm.weight")]
    [TestCase("blk.3.ffn_gate.weight", "model.layers.3.mlp.gate_proj.weight")]
    [TestCase("blk.3.ffn_up.weight", "model.layers.3.mlp.up_proj.weight")]
    [TestCase("blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight")]
    [TestCase("blk.3.ffn_sub_norm.weight", "model.layers.3.mlp.ffn_sub_norm.weight")]
    [TestCase("blk.3.attn_q.scale", "model.layers.3.self_attn.q_proj.weight_scale")]
    public void KnownPairs(string gguf, string hf)
    {
        Assert.That(GgufTensorNames.ToHf(gguf), Is.EqualTo(hf));
        Assert.That(GgufTensorNames.ToGguf(hf), Is.EqualTo(gguf));
    }

    [TestCase("blk.01.attn_q.weight")]
    [TestCase("blk.x.attn_q.weight")]
    [TestCase("blk..attn_q.weight")]
    [TestCase("blk.0.attn_qkv.weight")]
    [TestCase("blk.0.attn_q.bias")]
    [TestCase("token_embd")]
    [TestCase("model.layers.0.self_attn.q_proj.weight")]
    [TestCase("rope_freqs.weight")]
    public void NamesOutsideTheMapAreRefused(string name)
    {
        Assert.That(GgufTensorNames.TryToHf(name, out _), Is.False);
        Assert.Throws<ArgumentException>(() => GgufTensorNames.ToHf(name));
    }

    [Test]
    public void TheMapIsABijection()
    {
        var pairs = GgufTensorNames.All(30).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(pairs, Has.Count.EqualTo(2 * (3 + 30 * 11)));
            Assert.That(pairs.Select(p => p.Gguf), Is.Unique);
            Assert.That(pairs.Select(p => p.Hf), Is.Unique);
            foreach (var (g, h) in pairs)
            {
                Assert.That(GgufTensorNames.ToHf(g), Is.EqualTo(h));
                Assert.That(GgufTensorNames.ToGguf(h), Is.EqualTo(g));
            }
        });
    }
}
