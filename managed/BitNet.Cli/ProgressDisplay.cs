using Spectre.Console;

namespace BitNet.Cli;

/// <summary>
/// A progress bar on stderr for work that reports a fraction done (<c>bitnet convert</c>, <c>bitnet create</c>, tensor by
/// tensor): shown only when the work is still running after <see cref="Delay"/> and stderr is the process's own
/// terminal, never into a pipe, a file or a test's writer (CLI.md: progress goes to stderr; scripts get no ANSI codes).
/// </summary>
public static class ProgressDisplay
{
    /// <summary>Work that ends sooner draws nothing.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <summary>Runs <paramref name="work"/> (on a pool thread), drawing a bar labelled <paramref name="label"/> when it
    /// takes over <see cref="Delay"/> and stderr is a terminal; returns its result or rethrows its exception.</summary>
    public static T Run<T>(CliContext cli, string label, Func<IProgress<double>, T> work)
    {
        var latest = new LatestValue();
        Task<T> task = Task.Run(() => work(latest));
        if (!Finished(task, Delay) && StderrIsTerminal(cli))
        {
            // stderr is a terminal (checked above): draw there even when stdout is redirected, which Spectre's own
            // detection would take as non-interactive
            var console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(cli.Error),
                Ansi = AnsiSupport.Detect,
                Interactive = InteractionSupport.Yes,
            });
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask bar = ctx.AddTask(label, maxValue: 1.0);
                    while (!Finished(task, TimeSpan.FromMilliseconds(100))) bar.Value = latest.Value;
                    bar.Value = task.IsCompletedSuccessfully ? 1.0 : latest.Value;
                });
        }
        return task.GetAwaiter().GetResult();
    }

    // waits without throwing: the work's exception comes out of GetResult unwrapped
    private static bool Finished(Task task, TimeSpan timeout) => ((IAsyncResult)task).AsyncWaitHandle.WaitOne(timeout);

    private static bool StderrIsTerminal(CliContext cli) => ReferenceEquals(cli.Error, Console.Error) && !Console.IsErrorRedirected;

    // the last fraction reported, read by the drawing loop
    private sealed class LatestValue : IProgress<double>
    {
        private double _value;

        public double Value => Volatile.Read(ref _value);

        public void Report(double value) => Volatile.Write(ref _value, value);
    }
}
