using System.Text;
using BitNet.Tokenization.Jinja;

namespace BitNet.Tokenization;

/// <summary>
/// How a conversation becomes a prompt. <see cref="For"/> picks the Jinja <c>chat_template</c> the model's files carry
/// (GGUF <c>tokenizer.chat_template</c>, or <c>tokenizer_config.json</c> beside a tokenizer.json), rendered by
/// <see cref="JinjaTemplate"/> as transformers' <c>apply_chat_template</c> does; when there is none, the
/// <see cref="Fallback"/>: the chat format of bitnet-b1.58-2B-4T (the example of the transformers PR, confirmed in
/// ik_llama.cpp #339): <c>&lt;|begin_of_text|&gt;User: {user}&lt;|eot_id|&gt;Assistant: {reply}&lt;|eot_id|&gt;User: …</c>,
/// a prompt for a new reply ending with <c>Assistant:</c>. System messages take the same shape (<c>System: …</c>,
/// inferred). The static <see cref="Format"/> and <see cref="Encode"/> are that fallback.
/// </summary>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate? _jinja;
    private readonly string? _bosToken;
    private readonly string? _eosToken;

    private ChatTemplate(JinjaTemplate? jinja, string? bosToken, string? eosToken, string? note = null)
    {
        _jinja = jinja;
        _bosToken = bosToken;
        _eosToken = eosToken;
        Note = note;
    }

    /// <summary>Why the fallback stands in for a template the model's files do carry, or null.</summary>
    public string? Note { get; }

    /// <summary>The bitnet-b1.58-2B-4T format, for models without a template of their own.</summary>
    public static ChatTemplate Fallback { get; } = new(null, null, null);

    /// <summary>Whether this is <see cref="Fallback"/> rather than a model's Jinja template.</summary>
    public bool IsFallback => _jinja is null;

    /// <summary>The Jinja source, or null for the fallback.</summary>
    public string? Source => _jinja?.Source;

    /// <summary>Parses a Jinja chat template.</summary>
    /// <param name="source">The template text.</param>
    /// <param name="bosToken">The value of <c>bos_token</c> in the template (e.g. <c>&lt;|begin_of_text|&gt;</c>).</param>
    /// <param name="eosToken">The value of <c>eos_token</c>.</param>
    /// <exception cref="TemplateException">A syntax error or a construct outside the supported subset.</exception>
    public static ChatTemplate FromJinja(string source, string? bosToken, string? eosToken) =>
        new(JinjaTemplate.Parse(source), bosToken, eosToken);

    /// <summary>The model's own template (<see cref="BpeTokenizer.ChatTemplateSource"/>, with the tokenizer's BOS and
    /// EOS text as <c>bos_token</c> / <c>eos_token</c>), or <see cref="Fallback"/> when its files carry none. One
    /// known-wrong template is replaced by the fallback (with a <see cref="Note"/>): the <c>Human: …
    /// BITNETAssistant:</c> placeholder that Microsoft's <c>convert-ms-to-gguf-bitnet.py</c> writes into the
    /// bitnet-b1.58-2B-4T GGUF, which is not the format of the model's tokenizer_config.json and makes it loop.</summary>
    /// <exception cref="TemplateException">The model's template is broken or outside the supported subset (this is
    /// an error, not a reason to fall back).</exception>
    public static ChatTemplate For(BpeTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (string.IsNullOrEmpty(tokenizer.ChatTemplateSource)) return Fallback;
        if (tokenizer.ChatTemplateSource.Contains("BITNETAssistant", StringComparison.Ordinal))
            return new ChatTemplate(null, null, null,
                "the file's chat template is the 'Human: ... BITNETAssistant:' placeholder of Microsoft's GGUF converter, not the format bitnet-b1.58-2B-4T was trained on");
        string? Text(int? id) => id is int i ? tokenizer.IdToToken(i) : null;
        return FromJinja(tokenizer.ChatTemplateSource, Text(tokenizer.BosId), Text(tokenizer.EosId));
    }

    /// <summary>The prompt text of a conversation: the Jinja template rendered with <c>messages</c> (each a
    /// dictionary with <c>role</c> "system"/"user"/"assistant" and <c>content</c>), <c>add_generation_prompt</c>,
    /// <c>bos_token</c> and <c>eos_token</c>; or <see cref="Format"/> for the fallback.</summary>
    /// <exception cref="TemplateException">The template fails while rendering (including its own
    /// <c>raise_exception</c>, e.g. roles that do not alternate).</exception>
    public string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (_jinja is null) return Format(messages, addGenerationPrompt);
        var list = new List<object?>();
        foreach (var m in messages)
        {
            list.Add(new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["role"] = RoleName(m.Role).ToLowerInvariant(),
                ["content"] = m.Content,
            });
        }
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = list,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (_bosToken is not null) variables["bos_token"] = _bosToken;
        if (_eosToken is not null) variables["eos_token"] = _eosToken;
        return _jinja.Render(variables);
    }

    /// <summary>
    /// The token ids of a conversation. The fallback is <see cref="Encode"/> (messages cannot forge control tokens).
    /// A Jinja template's text is encoded with special tokens parsed, as transformers does, so special-token text
    /// inside a message becomes that token; BOS goes first when the tokenizer has one, the model asks for it
    /// (<see cref="BpeTokenizer.AddsBos"/>) and the text does not start with it (llama.cpp's rule).
    /// </summary>
    /// <exception cref="TemplateException">The template fails while rendering.</exception>
    public int[] EncodeConversation(BpeTokenizer tokenizer, IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (_jinja is null) return Encode(tokenizer, messages, addGenerationPrompt);
        return EncodeText(tokenizer, Render(messages, addGenerationPrompt), atStart: true);
    }

    /// <summary>Encodes rendered template text with special tokens parsed; at the start of a conversation BOS goes
    /// first unless the text already begins with it or the model's files say not to add it
    /// (<see cref="BpeTokenizer.AddsBos"/>).</summary>
    public static int[] EncodeText(BpeTokenizer tokenizer, string text, bool atStart)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>();
        tokenizer.Encode(text, ids, new EncodeOptions { ParseSpecial = true });
        if (atStart && tokenizer.AddsBos && tokenizer.BosId is int bos && (ids.Count == 0 || ids[0] != bos)) ids.Insert(0, bos);
        return ids.ToArray();
    }

    /// <summary>The token after each message.</summary>
    public const string EndOfTurn = "<|eot_id|>";

    /// <summary>The text of the conversation, with <c>&lt;|begin_of_text|&gt;</c> first, and <c>Assistant:</c>
    /// last when <paramref name="addGenerationPrompt"/>.</summary>
    public static string Format(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        var sb = new StringBuilder("<|begin_of_text|>");
        foreach (var m in messages) sb.Append(RoleName(m.Role)).Append(": ").Append(m.Content).Append(EndOfTurn);
        if (addGenerationPrompt) sb.Append(RoleName(ChatRole.Assistant)).Append(':');
        return sb.ToString();
    }

    /// <summary>
    /// The token ids of <see cref="Format"/>'s text: BOS, each message's text encoded as plain text (so a message
    /// cannot forge control tokens) followed by the <c>&lt;|eot_id|&gt;</c> id, then <c>Assistant:</c>. The same
    /// ids as encoding the formatted text with special tokens parsed, when the messages hold no special-token text.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tokenizer has no BOS or no <c>&lt;|eot_id|&gt;</c>.</exception>
    public static int[] Encode(BpeTokenizer tokenizer, IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        int eot = tokenizer.TokenToId(EndOfTurn)
                  ?? throw new InvalidOperationException($"{tokenizer.Source}: the tokenizer has no {EndOfTurn} token");
        var ids = new List<int>();
        tokenizer.Encode("", ids, new EncodeOptions { AddBos = true });
        foreach (var m in messages)
        {
            tokenizer.Encode(RoleName(m.Role) + ": " + m.Content, ids);
            ids.Add(eot);
        }
        if (addGenerationPrompt) tokenizer.Encode(RoleName(ChatRole.Assistant) + ":", ids);
        return ids.ToArray();
    }

    /// <summary>Tokens that end a reply: <see cref="BpeTokenizer.StopTokenIds"/> (<c>&lt;|eot_id|&gt;</c>,
    /// <c>&lt;|end_of_text|&gt;</c>, EOS).</summary>
    public static IReadOnlyList<int> StopTokenIds(BpeTokenizer tokenizer) => tokenizer.StopTokenIds;

    private static string RoleName(ChatRole role) => role switch
    {
        ChatRole.System => "System",
        ChatRole.User => "User",
        ChatRole.Assistant => "Assistant",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown chat role"),
    };
}
