// bitnet-bindings [--check] <header.h> <output.cs>
//
// Writes the generated P/Invoke file (atomically, and only when its text changes), or with --check compares it
// with the file on disk. Exit codes: 0 done or up to date; 1 --check found a difference; 2 the header does not
// parse or has a declaration with no C# form; 3 libclang could not be loaded; 64 bad usage.
using System;
using System.IO;
using System.Linq;
using System.Text;
using BitNet.Bindings;

var check = args.Contains("--check");
var paths = args.Where(a => a != "--check").ToArray();
if (paths.Length != 2 || paths.Any(p => p.StartsWith('-')))
{
    Console.Error.WriteLine("usage: bitnet-bindings [--check] <header.h> <output.cs>");
    return 64;
}
var (header, output) = (paths[0], paths[1]);

string text;
try
{
    // Notes (macros that are not integer constants, ...) matter when the header changes, not on every check.
    var generator = new BindingsGenerator { Note = check ? null : note => Console.Error.WriteLine($"note: {note}") };
    text = generator.Generate(header);
}
catch (HeaderParseException e)
{
    Console.Error.WriteLine($"error: {e.HeaderPath} does not parse:");
    foreach (var d in e.Diagnostics) Console.Error.WriteLine($"  {d}");
    return 2;
}
catch (UnsupportedDeclarationException e)
{
    Console.Error.WriteLine($"error: {header}: cannot bind {e.Message}");
    return 2;
}
catch (FileNotFoundException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (DllNotFoundException e)
{
    Console.Error.WriteLine($"error: cannot load libclang ({e.Message}); install Debian's libclang1-14 and libclang-common-14-dev");
    return 3;
}

var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
var existing = File.Exists(output) ? File.ReadAllText(output, utf8) : null;

if (check)
{
    if (existing == text)
    {
        Console.WriteLine($"{output} is up to date with {header}");
        return 0;
    }
    Console.Error.WriteLine(existing is null
        ? $"error: {output} does not exist; generate it with ./build.sh bindings"
        : $"error: {output} differs from what {header} generates; regenerate it with ./build.sh bindings");
    if (existing is not null) PrintFirstDifferences(existing, text);
    return 1;
}

if (existing == text)
{
    Console.WriteLine($"{output} is up to date");
    return 0;
}
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
var temp = $"{output}.{Environment.ProcessId}.tmp";
File.WriteAllText(temp, text, utf8);
File.Move(temp, output, overwrite: true);
Console.WriteLine($"wrote {output} ({utf8.GetByteCount(text)} bytes)");
return 0;

// The first few lines that differ, compared line by line from the first difference on.
static void PrintFirstDifferences(string committed, string generated)
{
    var a = committed.Split('\n');
    var b = generated.Split('\n');
    var first = Enumerable.Range(0, Math.Min(a.Length, b.Length)).FirstOrDefault(i => a[i] != b[i], Math.Min(a.Length, b.Length));
    var shown = 0;
    for (var i = first; i < Math.Max(a.Length, b.Length) && shown < 6; i++)
    {
        var left = i < a.Length ? a[i] : null;
        var right = i < b.Length ? b[i] : null;
        if (left == right) continue;
        Console.Error.WriteLine($"  line {i + 1}:");
        Console.Error.WriteLine($"    - {left ?? "(end of file)"}   (on disk)");
        Console.Error.WriteLine($"    + {right ?? "(end of file)"}   (generated)");
        shown++;
    }
}
