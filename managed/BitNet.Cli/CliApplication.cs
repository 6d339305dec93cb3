using System.CommandLine;
using System.CommandLine.Invocation;
using BitNet.Cli.Commands;
using BitNet.Interop;

namespace BitNet.Cli;

/// <summary>
/// The `bitnet` command line: the root command, one subcommand per file under Commands/, and the error policy of
/// CLI.md: exit code 0 on success; otherwise one line <c>error: &lt;what and why&gt;</c> on stderr, exit code
/// <see cref="ExitCodes.UsageError"/> for a command line that does not parse and <see cref="ExitCodes.Failure"/> for a
/// command that failed. No stack trace unless BITNET_DEBUG=1.
/// </summary>
public static class CliApplication
{
    /// <summary>Runs the command line <paramref name="args"/> with results to <paramref name="stdout"/> and errors, logs
    /// and progress to <paramref name="stderr"/>; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, System.Console.In, stdout, stderr);

    /// <summary>Runs <paramref name="args"/> reading interactive input (<c>bitnet chat</c>) from <paramref name="stdin"/>.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var context = new CliContext(stdout, stderr) { In = stdin };
        RootCommand root = CreateRootCommand(context);
        ParseResult parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            return context.Fail(ExitCodes.UsageError, UsageErrorMessage(parse));
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (ExpectedFailure(e) is string message)
        {
            return context.Fail(ExitCodes.Failure, message, e);
        }
        catch (Exception e)
        {
            return context.Fail(ExitCodes.Failure, $"unexpected {e.GetType().Name}: {OneLine(e.Message)} (BITNET_DEBUG=1 prints where)", e);
        }
    }

    /// <summary>The root command with every subcommand.</summary>
    public static RootCommand CreateRootCommand(CliContext context)
    {
        var root = new RootCommand("BitNet b1.58 ternary language models on CPUs: inspect, convert, run, benchmark.")
        {
            InfoCommand.Create(context),
            InspectCommand.Create(context),
            ConvertCommand.Create(context),
            CreateCommand.Create(context),
            TokenizeCommand.Create(context),
            LogitsCommand.Create(context),
            GenerateCommand.Create(context),
            ChatCommand.Create(context),
            BenchCommand.Create(context),
            TrainStepCommand.Create(context),
            EvalCommand.Create(context),
            TrainCommand.Create(context),
        };
        return root;
    }

    private static string UsageErrorMessage(ParseResult parse)
    {
        IEnumerable<string> messages = parse.Errors.Select(e => OneLine(e.Message).TrimEnd('.')).Distinct();
        // `bitnet nosuchcommand` gives "Required command was not provided" and "Unrecognized command or argument
        // 'nosuchcommand'": the second one says what is wrong.
        var unmatched = messages.Where(m => parse.UnmatchedTokens.Any(t => m.Contains($"'{t}'", StringComparison.Ordinal))).ToList();
        string detail = string.Join("; ", unmatched.Count > 0 ? unmatched : messages);
        if (detail.Length > 0) detail = char.ToLowerInvariant(detail[0]) + detail[1..];
        string command = parse.CommandResult.Command is RootCommand ? "bitnet" : $"bitnet {parse.CommandResult.Command.Name}";
        return $"{detail} (see '{command} --help')";
    }

    /// <summary>The one-line message for a failure that is the input's or the environment's fault, not a bug.</summary>
    private static string? ExpectedFailure(Exception e) => e switch
    {
        CommandException c => c.Message,
        BitNetException b => b.Message,
        DllNotFoundException => $"cannot load {NativeLibraryResolver.FileName}: it is not beside the executable, in " +
            $"runtimes/{NativeLibraryResolver.RuntimeIdentifier}/native/, in a build/*/native/ folder above it, or on the " +
            $"system search path (set {NativeLibraryResolver.NativeDirVariable} to the folder that holds it; BITNET_DEBUG=1 shows the loader's messages)",
        EntryPointNotFoundException p => $"the loaded libbitnet does not match this program (missing function): {OneLine(p.Message)}",
        FileNotFoundException f => $"file not found: {f.FileName ?? OneLine(f.Message)}",
        DirectoryNotFoundException d => OneLine(d.Message),
        UnauthorizedAccessException u => OneLine(u.Message),
        IOException io => OneLine(io.Message),
        InvalidDataException bad => OneLine(bad.Message),
        OperationCanceledException => "cancelled",
        _ => null,
    };

    internal static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
