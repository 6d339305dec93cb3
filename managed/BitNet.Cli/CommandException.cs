namespace BitNet.Cli;

/// <summary>A command cannot do what was asked, for a reason the user can fix; the message (one line, no trailing
/// period) is printed as <c>error: &lt;message&gt;</c>.</summary>
public sealed class CommandException(string message) : Exception(message);
