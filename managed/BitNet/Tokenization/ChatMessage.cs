namespace BitNet.Tokenization;

/// <summary>Who wrote a chat message.</summary>
public enum ChatRole
{
    /// <summary>Instructions for the assistant.</summary>
    System,
    /// <summary>The person chatting.</summary>
    User,
    /// <summary>The model.</summary>
    Assistant,
}

/// <summary>One message of a conversation.</summary>
/// <param name="Role">Who wrote it.</param>
/// <param name="Content">Its text (plain text: special-token text in it is not parsed).</param>
public sealed record ChatMessage(ChatRole Role, string Content);
