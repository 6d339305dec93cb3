namespace BitNet.Tokenization.Jinja;

/// <summary>A chat template that cannot be parsed or rendered: a syntax error, a construct outside the supported
/// subset, a type error, or the template's own <c>raise_exception(...)</c>. <see cref="Line"/> and
/// <see cref="Column"/> (1-based) point into the template source.</summary>
public sealed class TemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="problem">What is wrong, without the position.</param>
    /// <param name="line">1-based line in the template source.</param>
    /// <param name="column">1-based column in the template source.</param>
    public TemplateException(string problem, int line, int column)
        : base($"chat template, line {line} column {column}: {problem}")
    {
        Problem = problem;
        Line = line;
        Column = column;
    }

    /// <summary>What is wrong, without the position.</summary>
    public string Problem { get; }

    /// <summary>1-based line in the template source.</summary>
    public int Line { get; }

    /// <summary>1-based column in the template source.</summary>
    public int Column { get; }
}
