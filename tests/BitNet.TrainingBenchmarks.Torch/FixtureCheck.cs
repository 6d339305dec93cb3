using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace BitNet.TrainingBenchmarks.Torch;

/// <summary>
/// --check-fixture DIR: evidence that this model is the one the benchmark claims. Loads the float32 master weights
/// of a fixture model (DIR/master/model.safetensors, e.g. /work/shared/fixtures/bitnet-tiny) into
/// <see cref="BitNetTorchModel"/>, runs the reference inputs and compares with transformers' logits
/// (DIR/reference-master.safetensors) under the fixture README's tolerances: mean KL(ref ‖ ours) ≤ 1e-3 and
/// max |Δlogit| ≤ 0.25.
/// </summary>
internal static class FixtureCheck
{
    public static int Run(string dir, BenchOptions options)
    {
        using JsonDocument config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "master", "config.json")));
        JsonElement c = config.RootElement;
        var weights = ReadSafetensors(Path.Combine(dir, "master", "model.safetensors"));
        var reference = ReadSafetensors(Path.Combine(dir, "reference-master.safetensors"));
        options = options with
        {
            Vocab = c.GetProperty("vocab_size").GetInt32(),
            Hidden = c.GetProperty("hidden_size").GetInt32(),
            Intermediate = c.GetProperty("intermediate_size").GetInt32(),
            Layers = c.GetProperty("num_hidden_layers").GetInt32(),
            Heads = c.GetProperty("num_attention_heads").GetInt32(),
            KvHeads = c.GetProperty("num_key_value_heads").GetInt32(),
            Seq = c.GetProperty("max_position_embeddings").GetInt32(),
        };

        using var model = new BitNetTorchModel(options);
        using (no_grad())
        {
            foreach (var (name, p) in model.NamedParameters)
            {
                if (!weights.TryGetValue(name, out Tensor? w)) throw new InvalidDataException($"fixture lacks {name}");
                p.copy_(w.view(p.shape));
            }
        }

        bool pass = true;
        var inv = CultureInfo.InvariantCulture;
        foreach (var (ids, logits) in new[] { ("input_ids", "logits"), ("batch_input_ids", "batch_logits") })
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            Tensor input = reference[ids].to_type(int64);
            Tensor expected = reference[logits].view(-1, options.Vocab);
            Tensor ours = model.Forward(input).view(-1, options.Vocab);
            double maxAbs = (ours - expected).abs().max().item<float>();
            // KL(ref ‖ ours) per position, averaged
            Tensor logP = expected.log_softmax(-1), logQ = ours.log_softmax(-1);
            double kl = (logP.exp() * (logP - logQ)).sum(-1).mean().item<float>();
            bool ok = kl <= 1e-3 && maxAbs <= 0.25;
            pass &= ok;
            Console.WriteLine(string.Create(inv,
                $"{{\"check\":\"{logits}\",\"max_abs_diff\":{maxAbs:G4},\"mean_kl\":{kl:G4},\"pass\":{(ok ? "true" : "false")}}}"));
        }
        return pass ? 0 : 1;
    }

    // safetensors: u64 header length, JSON header {name: {dtype, shape, data_offsets}}, raw little-endian data.
    private static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        long headerLen = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, checked((int)headerLen)));
        long dataStart = 8 + headerLen;
        var tensors = new Dictionary<string, Tensor>();
        foreach (JsonProperty t in header.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__") continue;
            long[] shape = t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            JsonElement offsets = t.Value.GetProperty("data_offsets");
            int begin = checked((int)(dataStart + offsets[0].GetInt64()));
            int end = checked((int)(dataStart + offsets[1].GetInt64()));
            ReadOnlySpan<byte> bytes = file.AsSpan(begin, end - begin);
            tensors[t.Name] = t.Value.GetProperty("dtype").GetString() switch
            {
                "F32" => tensor(Enumerable.Range(0, bytes.Length / 4)
                    .Select(i => BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(begin + 4 * i))).ToArray(), shape),
                "I32" => tensor(Enumerable.Range(0, bytes.Length / 4)
                    .Select(i => BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(begin + 4 * i))).ToArray(), shape),
                var d => throw new InvalidDataException($"{path}: {t.Name} has dtype {d}; only F32 and I32 are read"),
            };
        }
        return tensors;
    }
}
