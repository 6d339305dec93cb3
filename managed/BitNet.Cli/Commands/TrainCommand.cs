using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using BitNet.Cli.Training;
using BitNet.Models;
using BitNet.Tokenization;
using BitNet.Training;
using Spectre.Console;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet train --config train.json [--resume CHECKPOINT]`: quantization-aware training of a BitNet b1.58
/// model from text (docs/training.md has the config's schema). Steps: the tokenizer (given, or trained on the data and
/// saved as out_dir/tokenizer.json), the data (<see cref="TextDataset"/>), then a <see cref="TrainingRun"/> that writes
/// checkpoints to out_dir, draws out_dir/loss.png at every checkpoint and at the end, and exports the model. Progress:
/// a Spectre bar when stderr is a terminal, else one log line every log_every steps; a line
/// <c>step N: val_loss X ppl Y</c> at every evaluation. Ctrl+C stops after the current step with a checkpoint.</summary>
internal static class TrainCommand
{
    public static Command Create(CliContext cli)
    {
        var config = new Option<string>("--config", "-c") { Description = "The training config (JSON; see docs/training.md)", Required = true };
        var resume = new Option<string?>("--resume") { Description = "A checkpoint to continue from (its options and step; the config gives the data)" };
        var command = new Command("train", "Train a BitNet b1.58 model on text files (quantization-aware)") { config, resume };
        command.SetAction(parse => Run(cli, TrainConfig.Load(parse.GetValue(config)!), parse.GetValue(resume)));
        return command;
    }

    private static int Run(CliContext cli, TrainConfig config, string? resumePath)
    {
        if (resumePath is not null && !File.Exists(resumePath)) throw new CommandException($"--resume: no such file: {resumePath}");
        Directory.CreateDirectory(config.OutDir);
        var clock = Stopwatch.StartNew();

        BpeTokenizer tokenizer = LoadTokenizer(cli, config);
        TextDataset data;
        try
        {
            data = TextDataset.FromFiles(tokenizer, config.Files, new TextDatasetOptions
            {
                SequenceLength = config.SequenceLength,
                ValidationFraction = config.ValidationFraction,
                Seed = config.Seed,
            });
        }
        catch (ArgumentException e)
        {
            throw new CommandException($"data: {Message(e)}");
        }
        cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data: {data.TokenCount} tokens from {config.Files.Count} file(s) ({data.TrainingTokens} training, {data.ValidationTokens} validation = {data.ValidationRows} rows), {data.WindowsPerEpoch} windows of {data.SequenceLength} per epoch"));

        TrainingOptions options = config.ToOptions(tokenizer);
        TrainingRun run;
        try
        {
            run = resumePath is null
                ? TrainingRun.Start(options, data)
                : TrainingRun.FromCheckpoint(resumePath, data, totalSteps: config.Steps, threads: config.Threads, checkpointDirectory: config.OutDir);
        }
        catch (ArgumentException e)
        {
            throw new CommandException($"{(resumePath is null ? "train" : "--resume")}: {Message(e)}");
        }
        catch (ModelFormatException e) when (resumePath is not null)
        {
            throw new CommandException($"--resume: {CliApplication.OneLine(e.Message)}");
        }

        using (run)
        {
            var m = run.Options.Model;
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"model: hidden {m.HiddenSize}, ffn {m.IntermediateSize}, {m.LayerCount} layers, {m.HeadCount}/{m.KeyValueHeadCount} heads, vocab {m.VocabSize}, {run.Trainer.ParameterCount / 1e6:F2} M parameters"));
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"train: {(resumePath is null ? "from step 0" : $"resuming at step {run.CompletedSteps}")} to {run.Options.TotalSteps}, batch {run.Options.Batch} x {run.Options.SequenceLength} x {run.Options.GradientAccumulationSteps} accumulated, {run.Options.Optimizer.Name}"));

            var plot = new PlotTarget(cli, Path.Combine(config.OutDir, "loss.png"),
                $"{Path.GetFileName(config.OutDir.TrimEnd(Path.DirectorySeparatorChar))}: hidden {m.HiddenSize}, {m.LayerCount} layers, vocab {m.VocabSize}");
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            TrainingResult result;
            long startStep = run.CompletedSteps;
            try
            {
                result = StderrIsTerminal(cli)
                    ? RunWithBar(cli, run, plot, cancel.Token)
                    : run.Run(new Reporter(p => Report(cli, run, config, p, plot, startStep)), cancel.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            if (run.History.Count > 0) plot.Save(run.History);
            if (result.Cancelled)
            {
                throw new CommandException($"cancelled after step {result.CompletedSteps}" +
                    (result.LastCheckpoint is { } c ? $"; continue with --resume {c}" : ""));
            }

            Export(cli, run, config);
            cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steps: {result.CompletedSteps}"));
            cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"train_loss: {result.FinalTrainLoss:F6}"));
            if (result.FinalValidationLoss is double v)
                cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"val_loss: {v:F6} (ppl {Math.Exp(v):F4})"));
            if (result.LastCheckpoint is { } last) cli.Out.WriteLine($"checkpoint: {last}");
            if (plot.Written) cli.Out.WriteLine($"loss_plot: {plot.Path}");
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {clock.Elapsed.TotalSeconds:F1} s"));
        }
        return ExitCodes.Success;
    }

    /// <summary>An argument exception's message without the " (Parameter 'x')" that .NET appends.</summary>
    private static string Message(ArgumentException e) =>
        CliApplication.OneLine(e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message);

    private static BpeTokenizer LoadTokenizer(CliContext cli, TrainConfig config)
    {
        if (config.Tokenizer.Path is { } path)
        {
            var loaded = BpeTokenizer.FromFile(path);
            if (loaded.BosId is null) throw new CommandException($"data.tokenizer: {path} has no BOS token (<|begin_of_text|>, <s> or <|startoftext|>)");
            return loaded;
        }
        var clock = Stopwatch.StartNew();
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = config.Tokenizer.TrainVocabSize, PreTokenizer = config.Tokenizer.PreTokenizer });
        foreach (string file in config.Files) trainer.AddFile(file);
        TrainedBpe bpe = trainer.Train();
        bpe.Save(config.TokenizerPath);
        cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tokenizer: trained {bpe.VocabSize} tokens ({bpe.Merges.Count} merges) on {trainer.DistinctWords} distinct words in {clock.Elapsed.TotalSeconds:F1} s -> {config.TokenizerPath}"));
        return BpeTokenizer.FromFile(config.TokenizerPath);
    }

    private static TrainingResult RunWithBar(CliContext cli, TrainingRun run, PlotTarget plot, CancellationToken ct)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(cli.Error),
            Ansi = AnsiSupport.Detect,
            Interactive = InteractionSupport.Yes,
        });
        TrainingResult result = null!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask task = ctx.AddTask("starting", maxValue: run.Options.TotalSteps);
                task.Value = run.CompletedSteps;
                result = run.Run(new Reporter(p =>
                {
                    task.Value = p.Step;
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                        $"step {p.Step}/{p.TotalSteps} loss {p.TrainLoss:F4} lr {p.LearningRate:0.00e+00} {p.TokensPerSecond:F0} tok/s"));
                    if (p.ValidationLoss is double v)
                        console.MarkupLine(Markup.Escape(ValidationLine(p.Step, v)));
                    if (p.CheckpointPath is { } c)
                    {
                        plot.Save(run.History);
                        console.MarkupLine(Markup.Escape($"step {p.Step}: checkpoint {c}"));
                    }
                }), ct);
            });
        return result;
    }

    /// <summary>Plain log lines (stderr not a terminal): every log_every steps and the last one, validation, checkpoints.</summary>
    private static void Report(CliContext cli, TrainingRun run, TrainConfig config, TrainingProgress p, PlotTarget plot, long startStep)
    {
        if (p.Step % config.LogEvery == 0 || p.Step == p.TotalSteps || p.Step == startStep + 1)
        {
            double perStep = p.Elapsed.TotalSeconds / Math.Max(1, p.Step - startStep);
            var eta = TimeSpan.FromSeconds(perStep * (p.TotalSteps - p.Step));
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"step {p.Step}/{p.TotalSteps}: loss {p.TrainLoss:F4} lr {p.LearningRate:0.000e+00} wd {p.WeightDecay:G3} gnorm {p.GradientNorm:F3} blend {p.Blend:F2} {p.TokensPerSecond:F0} tok/s eta {eta:hh\\:mm\\:ss}"));
        }
        if (p.ValidationLoss is double v) cli.Error.WriteLine(ValidationLine(p.Step, v));
        if (p.CheckpointPath is { } c)
        {
            plot.Save(run.History);
            cli.Error.WriteLine($"step {p.Step}: checkpoint {c}");
        }
        cli.Error.Flush();
    }

    private static string ValidationLine(long step, double loss) =>
        string.Create(CultureInfo.InvariantCulture, $"step {step}: val_loss {loss:F4} ppl {Math.Exp(loss):F2}");

    private static void Export(CliContext cli, TrainingRun run, TrainConfig config)
    {
        ExportTargets e = config.Export;
        string tokenizer = config.TokenizerPath;
        if (e.Master is { } master)
        {
            TrainedModelWriter.WriteMaster(run.Trainer, master, tokenizer);
            cli.Out.WriteLine($"export_master: {master}");
        }
        if (e.HfPacked is { } packed)
        {
            TrainedModelWriter.WritePacked(run.Trainer, packed, tokenizer);
            cli.Out.WriteLine($"export_hf_packed: {packed}");
        }
        if (e.Gguf is { } gguf)
        {
            TrainedModelWriter.WriteGguf(run.Trainer, gguf, tokenizer, new GgufModelWriterOptions { TernaryType = e.GgufType });
            cli.Out.WriteLine($"export_gguf: {gguf}");
        }
    }

    private static bool StderrIsTerminal(CliContext cli) => ReferenceEquals(cli.Error, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>loss.png: drawn at every checkpoint and at the end. A failure (no libSkiaSharp beside the executable, a full
    /// disk) is one warning on stderr, not a reason to stop training; later attempts are skipped.</summary>
    private sealed class PlotTarget(CliContext cli, string path, string title)
    {
        private bool _failed;

        public string Path => path;

        public bool Written { get; private set; }

        public void Save(IReadOnlyList<TrainingStepRecord> history)
        {
            if (_failed) return;
            try
            {
                LossPlot.Save(history, path, title);
                Written = true;
            }
            catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or IOException or UnauthorizedAccessException)
            {
                _failed = true;
                Written = false;
                Exception inner = e;
                while (inner.InnerException is not null) inner = inner.InnerException;
                string why = inner is DllNotFoundException
                    ? "libSkiaSharp could not be loaded (it and libHarfBuzzSharp must be beside the executable)"
                    : CliApplication.OneLine(inner.Message);
                cli.Error.WriteLine($"warning: {path} not written: {why}");
            }
        }
    }

    /// <summary>Reports on the training thread, synchronously (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class Reporter(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
