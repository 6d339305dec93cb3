// Comments from the header, turned into the plain lines of a C# /// <summary>.
using System;
using System.Collections.Generic;
using System.Linq;

namespace BitNet.Bindings;

internal static class DocComment
{
    private static readonly string[] Openers = ["/**<", "/*!<", "///<", "//!<", "/**", "/*!", "/*", "///", "//!", "//"];

    /// <summary>The text of a raw C comment (one or several merged ones) without comment markers, leading
    /// asterisks, section rules (lines of only '-', '=', '*') or surrounding blank lines.</summary>
    public static IReadOnlyList<string> Clean(string raw)
    {
        var lines = new List<string>();
        foreach (var rawLine in raw.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = rawLine.Trim();
            var opener = Openers.FirstOrDefault(o => line.StartsWith(o, StringComparison.Ordinal));
            if (opener is not null) line = line[opener.Length..];
            else if (line.StartsWith('*') && !line.StartsWith("*/", StringComparison.Ordinal)) line = line[1..];
            if (line.EndsWith("*/", StringComparison.Ordinal)) line = line[..^2];
            line = line.TrimEnd();
            if (line.StartsWith(' ')) line = line[1..]; // the space after the marker; deeper indentation stays
            if (line.Trim().Length == 0) line = "";
            if (line.Length > 0 && line.Trim().All(c => c is '-' or '=' or '*' or '/' or '_' or '~' or '#')) continue;
            if (line.Length == 0 && (lines.Count == 0 || lines[^1].Length == 0)) continue;
            lines.Add(line);
        }
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    /// <summary>For declarations libclang attaches no comment to (macros): the comment block that ends on the line
    /// just above 1-based <paramref name="line"/>, else a comment after the code on that line.</summary>
    public static IReadOnlyList<string> FromSource(string[] source, int line)
    {
        var i = line - 2;
        if (i >= 0 && source[i].TrimEnd().EndsWith("*/", StringComparison.Ordinal))
        {
            var start = i;
            while (start >= 0 && !source[start].Contains("/*", StringComparison.Ordinal)) start--;
            if (start >= 0 && source[start].TrimStart().StartsWith("/*", StringComparison.Ordinal))
                return Clean(string.Join("\n", source[start..(i + 1)]));
        }
        else if (i >= 0 && source[i].TrimStart().StartsWith("//", StringComparison.Ordinal))
        {
            var start = i;
            while (start > 0 && source[start - 1].TrimStart().StartsWith("//", StringComparison.Ordinal)) start--;
            return Clean(string.Join("\n", source[start..(i + 1)]));
        }
        if (line - 1 < source.Length)
        {
            var text = source[line - 1];
            var at = text.IndexOf("/*", StringComparison.Ordinal);
            if (at < 0) at = text.IndexOf("//", StringComparison.Ordinal);
            if (at > 0) return Clean(text[at..]);
        }
        return [];
    }
}
