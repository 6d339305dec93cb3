namespace BitNet.Tokenization.Jinja;

/// <summary>
/// A small, safe interpreter for the Jinja2 subset that chat templates use (the <c>chat_template</c> of
/// <c>tokenizer_config.json</c>, GGUF <c>tokenizer.chat_template</c>), rendering the way transformers'
/// <c>apply_chat_template</c> does (<c>trim_blocks</c>, <c>lstrip_blocks</c>, loop controls, <c>raise_exception</c>).
/// Values are plain data only: <c>null</c> (none), <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="string"/>, lists (<see cref="IReadOnlyList{T}"/> of object?) and string-keyed dictionaries
/// (<see cref="IReadOnlyDictionary{TKey,TValue}"/>). Nothing reaches .NET members (no reflection), output and loops
/// are bounded, and anything outside the subset is a <see cref="TemplateException"/> naming it and its position.
/// </summary>
/// <example><code>
/// var t = JinjaTemplate.Parse("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
/// string text = t.Render(new Dictionary&lt;string, object?&gt; { ["messages"] = messages });
/// </code></example>
public sealed class JinjaTemplate
{
    private readonly string _source;
    private readonly List<Node> _body;

    private JinjaTemplate(string source, List<Node> body)
    {
        _source = source;
        _body = body;
    }

    /// <summary>The template text.</summary>
    public string Source => _source;

    /// <summary>Parses a template.</summary>
    /// <exception cref="TemplateException">A syntax error or an unsupported statement.</exception>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(source, JinjaParser.Parse(source));
    }

    /// <summary>Renders the template with the given global variables.</summary>
    /// <exception cref="TemplateException">A type error, an unsupported filter, test or function, a value of a .NET
    /// type outside the plain-data ones, or the template's <c>raise_exception</c>.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        return new JinjaRenderer(_source, variables).Render(_body);
    }
}
