using System.Text;

namespace BitNet.Tokenization;

/// <summary>
/// The chat format of bitnet-b1.58-2B-4T (the example of the transformers PR, confirmed in ik_llama.cpp #339):
/// <c>&lt;|begin_of_text|&gt;User: {user}&lt;|eot_id|&gt;Assistant: {reply}&lt;|eot_id|&gt;User: …</c>, a prompt for
/// a new reply ending with <c>Assistant:</c>. System messages take the same shape (<c>System: …</c>, inferred).
/// The fallback for models whose files carry no chat template of their own.
/// </summary>
public static class ChatTemplate
{
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
