using System.Text.Json;
using BitNet.Models;

namespace BitNet.Tokenization;

/// <summary>Reads what a HF model folder's <c>tokenizer_config.json</c> adds to its tokenizer.json: the Jinja
/// <c>chat_template</c> (a string, or transformers' list of <c>{"name", "template"}</c> from which "default" is
/// taken).</summary>
internal static class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";

    /// <summary>The chat template of <c>tokenizer_config.json</c> in <paramref name="folder"/>, or null when the file
    /// or the key is absent.</summary>
    /// <exception cref="ModelFormatException">The file is not JSON, or <c>chat_template</c> is neither a string nor a
    /// list with a "default" entry.</exception>
    public static string? ReadChatTemplate(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("chat_template", out var t) || t.ValueKind == JsonValueKind.Null)
                return null;
            if (t.ValueKind == JsonValueKind.String) return t.GetString();
            if (t.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in t.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("name", out var n) && n.GetString() == "default"
                        && entry.TryGetProperty("template", out var tt) && tt.ValueKind == JsonValueKind.String)
                        return tt.GetString();
                }
                throw new ModelFormatException(path, "chat_template is a list without a \"default\" template");
            }
            throw new ModelFormatException(path, $"chat_template is a {t.ValueKind}, not a string");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON: {e.Message}", e);
        }
    }
}
