using System.CommandLine;
using System.Globalization;
using BitNet.Inference;
using BitNet.Models;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet logits -m PATH --ids 1,2,3 -o OUT.safetensors [--hidden-states]` (CLI.md): runs the ids exactly as
/// given (no BOS) and writes F32 <c>logits</c> [T, vocab], or [B, T, vocab] for a batch "1,2;3,4" (each row in its own
/// session), and with --hidden-states <c>hidden_state.0</c> … <c>hidden_state.L</c> ([T, hidden] or [B, T, hidden]) in
/// the Hugging Face convention. The file is written under a temporary name and renamed.</summary>
internal static class LogitsCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model", "-m") { Description = "A GGUF file or a Hugging Face model folder", Required = true };
        var ids = new Option<string>("--ids") { Description = "Token ids, comma-separated; rows of a batch separated by ';'", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The safetensors file to write", Required = true };
        var hidden = new Option<bool>("--hidden-states") { Description = "Also write hidden_state.0 .. hidden_state.L" };
        var threads = new Option<int?>("--threads") { Description = "Threads (default: one per physical core)" };
        var layout = I2SLayoutOption.Create();
        var command = new Command("logits", "Write the logits (and hidden states) of token ids to a safetensors file") { model, ids, output, hidden, threads, layout };
        command.SetAction(parse =>
        {
            (int[][] rows, bool batch) = ParseIds(parse.GetValue(ids)!);
            int? threadCount = parse.GetValue(threads);
            if (threadCount is <= 0) throw new CommandException("--threads must be at least 1");
            bool withHidden = parse.GetValue(hidden);
            using var m = I2SLayoutOption.Load(cli, parse.GetValue(model)!, parse.GetValue(layout), new ModelLoadOptions { LoadTokenizer = false });
            int t = rows[0].Length, v = m.Config.VocabSize, h = m.Config.HiddenSize, layers = m.Config.LayerCount;
            if (t > m.Config.MaxPositionEmbeddings)
                throw new CommandException($"--ids: {t} tokens per row exceed the model's context of {m.Config.MaxPositionEmbeddings}");
            foreach (int[] row in rows)
                foreach (int id in row)
                    if (id >= v) throw new CommandException($"--ids: token id {id} is outside the vocabulary (0..{v - 1})");
            int b = rows.Length;
            var logits = new float[checked(b * t * v)];
            float[][] states = withHidden ? Enumerable.Range(0, layers + 1).Select(_ => new float[checked(b * t * h)]).ToArray() : [];
            var rowHidden = withHidden ? new float[checked((layers + 1) * t * h)] : [];
            for (int r = 0; r < b; r++)
            {
                cli.Error.WriteLine($"row {r + 1}/{b}: {t} tokens");
                using var session = m.CreateSession(new SessionOptions { ContextSize = t, Threads = threadCount });
                session.Forward(rows[r], logits.AsSpan(r * t * v, t * v), LogitsMode.All, rowHidden);
                for (int l = 0; l <= layers && withHidden; l++)
                    rowHidden.AsSpan(l * t * h, t * h).CopyTo(states[l].AsSpan(r * t * h, t * h));
            }
            var writer = new SafetensorsWriter();
            long[] Shape(int last) => batch ? [b, t, last] : [t, last];
            writer.AddSingles("logits", logits, Shape(v));
            for (int l = 0; l < states.Length; l++) writer.AddSingles($"hidden_state.{l}", states[l], Shape(h));
            writer.Save(parse.GetValue(output)!);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>"1,2,3" → one row; "1,2;3,4" → a batch of rows of equal length.</summary>
    internal static (int[][] Rows, bool Batch) ParseIds(string text)
    {
        string[] parts = text.Split(';');
        var rows = new int[parts.Length][];
        for (int r = 0; r < parts.Length; r++)
        {
            string[] items = parts[r].Split(',', StringSplitOptions.TrimEntries);
            if (items.Length == 0 || items.All(string.IsNullOrEmpty)) throw new CommandException($"--ids: row {r + 1} is empty");
            rows[r] = new int[items.Length];
            for (int i = 0; i < items.Length; i++)
                if (!int.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out rows[r][i]))
                    throw new CommandException($"--ids: '{items[i]}' is not a token id (a non-negative integer)");
            if (rows[r].Length != rows[0].Length)
                throw new CommandException($"--ids: batch rows must have equal length (row 1 has {rows[0].Length} ids, row {r + 1} has {rows[r].Length})");
        }
        return (rows, parts.Length > 1);
    }
}
