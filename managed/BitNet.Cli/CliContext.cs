using Spectre.Console;

namespace BitNet.Cli;

/// <summary>Where a command writes: <see cref="Out"/> for results (plain text or JSON for scripts), <see cref="Error"/>
/// for logs, progress and errors, and <see cref="Console"/>, a Spectre console over <see cref="Out"/> for tables meant
/// for people (colours only when stdout is a terminal).</summary>
public sealed class CliContext
{
    /// <summary>Creates a context over the two streams.</summary>
    public CliContext(TextWriter stdout, TextWriter stderr)
    {
        Out = stdout;
        Error = stderr;
        // Colours and cursor codes only for the process's own stdout on a terminal, never into a pipe, a file or a
        // StringWriter (Spectre's detection looks at the environment, not at the writer).
        bool terminal = ReferenceEquals(stdout, System.Console.Out) && !System.Console.IsOutputRedirected;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
    }

    /// <summary>Interactive input (<c>bitnet chat</c>); the process's stdin unless the caller gives another.</summary>
    public TextReader In { get; init; } = System.Console.In;

    /// <summary>Results.</summary>
    public TextWriter Out { get; }

    /// <summary>Logs, progress and errors.</summary>
    public TextWriter Error { get; }

    /// <summary>Human-readable output (tables) on stdout.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Writes <c>error: &lt;message&gt;</c> to stderr (and the whole exception with BITNET_DEBUG=1); returns
    /// <paramref name="exitCode"/>.</summary>
    internal int Fail(int exitCode, string message, Exception? detail = null)
    {
        Error.WriteLine($"error: {CliApplication.OneLine(message)}");
        if (detail is not null && Environment.GetEnvironmentVariable("BITNET_DEBUG") == "1") Error.WriteLine(detail);
        Error.Flush();
        return exitCode;
    }
}
