using System.Diagnostics;
using BitNet.Cli;

namespace BitNet.Tests.Cli;

/// <summary><see cref="ProgressDisplay"/>: progress bars only on a terminal stderr, never in piped output (CLI.md).</summary>
public sealed class ProgressDisplayTests
{
    [Test]
    [NonParallelizable]
    public void WorkOverASecondDrawsNothingIntoAPipe()
    {
        // The test host's stderr is a pipe, as a script's is. Console.Error is swapped for a writer (the OS handle stays
        // the pipe), so the context is the process's own stderr, the one case where a bar could be drawn.
        TextWriter original = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            var cli = new CliContext(new StringWriter(), Console.Error);
            var clock = Stopwatch.StartNew();
            int result = ProgressDisplay.Run(cli, "model.gguf", progress =>
            {
                for (int i = 1; i <= 6; i++)
                {
                    Thread.Sleep(250);
                    progress.Report(i / 6.0);
                }
                return 42;
            });
            Assert.That(result, Is.EqualTo(42));
            Assert.That(clock.Elapsed, Is.GreaterThan(ProgressDisplay.Delay), "long enough that a terminal would get a bar");
        }
        finally
        {
            Console.SetError(original);
        }
        Assert.That(captured.ToString(), Is.Empty, "nothing at all, so certainly no ANSI codes");
    }

    [Test]
    public void ExceptionsComeThroughUnwrapped()
    {
        var cli = new CliContext(new StringWriter(), new StringWriter());
        Assert.Throws<InvalidDataException>(() => ProgressDisplay.Run<int>(cli, "x", _ => throw new InvalidDataException("bad")));
    }

    [Test]
    public void PipedConvertAndCreateWriteNoAnsiCodes()
    {
        // the real executable with stdout and stderr piped, as a script runs it
        string exe = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "bitnet.exe" : "bitnet");
        if (!File.Exists(exe)) Assert.Ignore($"{exe} is not beside the tests");
        string temp = Path.Combine(Path.GetTempPath(), "bitnet-progress-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        try
        {
            string tokenizer = Path.Combine(RepositoryPaths.Root, "build", "tokenizers", "llama3", "tokenizer.json");
            var runs = new List<string[]>
            {
                new[] { "convert", RepositoryPaths.Fixture("bitnet-tiny", "packed"), "-o", Path.Combine(temp, "a.gguf"), "--type", "tq2_0" },
                new[] { "convert", Path.Combine(temp, "a.gguf"), "-o", Path.Combine(temp, "b"), "--type", "hf-packed" },
            };
            if (File.Exists(tokenizer))
                runs.Add(["create", "--preset", "tiny", "--random", "--tokenizer", tokenizer, "-o", Path.Combine(temp, "c.gguf")]);
            foreach (string[] args in runs)
            {
                var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (string a in args) start.ArgumentList.Add(a);
                using Process p = Process.Start(start)!;
                Task<string> stdout = p.StandardOutput.ReadToEndAsync();
                Task<string> stderr = p.StandardError.ReadToEndAsync();
                Assert.That(p.WaitForExit(120_000), Is.True, args[0]);
                Assert.That(p.ExitCode, Is.EqualTo(0), stderr.Result);
                // ordinal: a culture-aware search ignores control characters and would find ESC anywhere
                Assert.That((stdout.Result + stderr.Result).Contains('\u001b', StringComparison.Ordinal), Is.False,
                    $"{string.Join(' ', args)}: no ANSI escape codes in\n{stderr.Result}");
                Assert.That(stderr.Result, Does.Contain("wrote "), "the log lines are there");
            }
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
