using System.Text.Json.Nodes;
using BitNet.Inference;
using BitNet.Inference.Sampling;
using BitNet.Models;

namespace BitNet.Tests.Inference;

/// <summary>Several sequences in one pass (<c>bn_context_forward_batch</c>) and batched generation, and an untied LM
/// head read from a model folder.</summary>
public sealed class BatchTests
{
    [TestCaseSource(typeof(Fixture), nameof(Fixture.All))]
    public void BatchForward_ReferenceBatch_MatchesReferenceAndSingleSessions(Fixture fixture)
    {
        using var model = BitNetModel.Load(fixture.Path);
        using var reference = fixture.OpenReference();
        TensorInfo info = reference["batch_input_ids"];
        int b = (int)info.Shape[0], t = (int)info.Shape[1], v = model.Config.VocabSize;
        int[] ids = Fixture.Ids(reference, "batch_input_ids");
        float[] want = reference.ReadSingles("batch_logits");
        var sessions = Enumerable.Range(0, b).Select(_ => model.CreateSession(new SessionOptions { Threads = 2 })).ToList();
        try
        {
            var rows = Enumerable.Range(0, b).Select(r => ids.AsSpan(r * t, t).ToArray()).ToList();
            var got = new float[b * t * v];
            InferenceSession.ForwardBatch(sessions, rows, got, LogitsMode.All);
            for (int r = 0; r < b; r++)
            {
                Tolerances.AssertLogits(want.AsSpan(r * t * v, t * v), got.AsSpan(r * t * v, t * v), v, $"{fixture} batch row {r}");
                using var alone = model.CreateSession(new SessionOptions { Threads = 1 });
                float[] single = alone.Forward(rows[r], LogitsMode.All);
                Assert.That(got.AsSpan(r * t * v, t * v).SequenceEqual(single), Is.True, $"row {r} differs from its own session");
                Assert.That(sessions[r].Position, Is.EqualTo(t));
            }
        }
        finally
        {
            sessions.ForEach(s => s.Dispose());
        }
    }

    [Test]
    public void BatchForward_BadArguments_AreRefusedAndChangeNothing()
    {
        using var model = BitNetModel.Load(Fixture.TinyPacked.Path);
        using var a = model.CreateSession(new SessionOptions { ContextSize = 8, MaxBatch = 4 });
        using var b = model.CreateSession(new SessionOptions { ContextSize = 8 });
        int v = model.Config.VocabSize;
        var logits = new float[4 * v];
        Assert.Throws<ArgumentException>(() => InferenceSession.ForwardBatch([a, b], [[1, 2]], logits, LogitsMode.Last));
        Assert.Throws<ArgumentException>(() => InferenceSession.ForwardBatch([a, b], [[1], []], logits, LogitsMode.Last));
        Assert.Throws<ArgumentException>(() => InferenceSession.ForwardBatch([a, b], [[1], [2]], new float[v], LogitsMode.Last));
        var e = Assert.Throws<BitNetException>(() => InferenceSession.ForwardBatch([a, a], [[1], [2]], logits, LogitsMode.Last));
        Assert.That(e!.Message, Does.Contain("same context"));
        e = Assert.Throws<BitNetException>(() => InferenceSession.ForwardBatch([a, b], [[1, 2, 3], [4, 5]], logits, LogitsMode.Last));
        Assert.That(e!.Message, Does.Contain("max_batch"));
        Assert.That(a.Position + b.Position, Is.EqualTo(0));
    }

    [Test]
    public async Task GenerateBatch_Greedy_EqualsEachPromptAlone()
    {
        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        string[] prompts = ["In the beginning", "hello world", "a"];
        var options = new GenerationOptions { Temperature = 0, MaxTokens = 12, StopAtStopTokens = false };
        var sessions = prompts.Select(_ => model.CreateSession(new SessionOptions { Threads = 1 })).ToList();
        try
        {
            IReadOnlyList<GenerationResult> results = await InferenceSession.GenerateBatchAsync(sessions, prompts, options);
            for (int i = 0; i < prompts.Length; i++)
            {
                using var alone = model.CreateSession(new SessionOptions { Threads = 1 });
                var text = new System.Text.StringBuilder();
                await foreach (string piece in alone.GenerateAsync(prompts[i], options)) text.Append(piece);
                Assert.That(results[i].TokenIds, Is.EqualTo(alone.LastResult!.TokenIds), $"prompt {i} tokens");
                Assert.That(results[i].Text, Is.EqualTo(text.ToString()), $"prompt {i} text");
                Assert.That(results[i].StopReason, Is.EqualTo(StopReason.MaxTokens));
                Assert.That(sessions[i].Position, Is.EqualTo(alone.Position), "the cache holds prompt and continuation");
            }
        }
        finally
        {
            sessions.ForEach(s => s.Dispose());
        }
    }

    [Test]
    public async Task GenerateBatch_Cancelled_TruncatesEverySession()
    {
        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        using var a = model.CreateSession();
        using var b = model.CreateSession();
        a.Forward([0, 5, 6], LogitsMode.None);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThatAsync(() => InferenceSession.GenerateBatchAsync([a, b], ["x", "y"], new GenerationOptions { MaxTokens = 4 }, cts.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(a.Position, Is.EqualTo(3));
        Assert.That(b.Position, Is.EqualTo(0));
    }

    /// <summary>A model folder with <c>tie_word_embeddings: false</c> and an <c>lm_head.weight</c> equal to twice the
    /// embedding gives exactly twice the tied logits (a float product by 2 is exact).</summary>
    [Test]
    public void UntiedHead_FromModelFolder_IsUsedForTheLogits()
    {
        string dir = Path.Combine(Path.GetTempPath(), "bn-untied-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string src = Fixture.TinyMaster.Path;
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(src, "config.json")))!.AsObject();
            config["tie_word_embeddings"] = false;
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
            File.Copy(Path.Combine(src, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
            var writer = new SafetensorsWriter();
            using (var st = SafetensorsFile.Open(Path.Combine(src, "model.safetensors")))
            {
                foreach (TensorInfo t in st.Tensors)
                    writer.Add(t.Name, t.DType, t.Shape, st.GetBytes(t).ToArray());
                float[] head = st.ReadSingles("model.embed_tokens.weight").Select(x => x * 2).ToArray();
                writer.AddSingles("lm_head.weight", head, st["model.embed_tokens.weight"].Shape);
            }
            writer.Save(Path.Combine(dir, "model.safetensors"));

            int[] ids = [0, 17, 42, 9, 3];
            using var tied = BitNetModel.Load(src);
            using var untied = BitNetModel.Load(dir);
            using var s1 = tied.CreateSession();
            using var s2 = untied.CreateSession();
            float[] a = s1.Forward(ids, LogitsMode.All);
            float[] b = s2.Forward(ids, LogitsMode.All);
            Assert.That(b, Is.EqualTo(a.Select(x => x * 2).ToArray()));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
