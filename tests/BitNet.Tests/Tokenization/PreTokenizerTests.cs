using System.Text;
using System.Text.RegularExpressions;
using BitNet.Tokenization;

namespace BitNet.Tests.Tokenization;

/// <summary>The pre-tokenizers: HF's Split behaviors, and the hand-written GPT-2 / Llama-3 matchers against .NET's
/// regex engine running the same patterns.</summary>
public sealed class PreTokenizerTests
{
    private static string[] Split(PreTokenizer pre, string text)
    {
        var pieces = new List<Piece>();
        pre.Split(text, 0, pieces);
        return pieces.Select(p => text.Substring(p.Start, p.Length)).ToArray();
    }

    // The example of HF tokenizers' SplitDelimiterBehavior documentation.
    [TestCase("Removed", new[] { "the", "final", "countdown" })]
    [TestCase("Isolated", new[] { "the", "-", "final", "-", "-", "countdown" })]
    [TestCase("MergedWithPrevious", new[] { "the-", "final-", "-", "countdown" })]
    [TestCase("MergedWithNext", new[] { "the", "-final", "-", "-countdown" })]
    [TestCase("Contiguous", new[] { "the", "-", "final", "--", "countdown" })]
    public void SplitBehaviors(string behavior, string[] expected)
    {
        var pre = new SplitPreTokenizer(new LiteralMatcher("-"), Enum.Parse<SplitBehavior>(behavior), invert: false);
        Assert.That(Split(pre, "the-final--countdown"), Is.EqualTo(expected));
    }

    [Test]
    public void InvertedSplitKeepsTheMatches()
    {
        var pre = new SplitPreTokenizer(new DotNetRegexMatcher(@"\d+"), SplitBehavior.Removed, invert: true);
        Assert.That(Split(pre, "ab12cd345"), Is.EqualTo(new[] { "12", "345" }));
    }

    [Test]
    public void SequenceSplitsEachPieceAgain()
    {
        var pre = new SequencePreTokenizer([
            new SplitPreTokenizer(new LiteralMatcher(" "), SplitBehavior.Removed, invert: false),
            new SplitPreTokenizer(new LiteralMatcher("-"), SplitBehavior.Isolated, invert: false),
        ]);
        Assert.That(Split(pre, "a-b c"), Is.EqualTo(new[] { "a", "-", "b", "c" }));
    }

    [TestCase("Hello world", new[] { "Hello", " world" })]
    [TestCase("1234567 x", new[] { "123", "456", "7", " x" })]
    [TestCase("it's IT'S", new[] { "it", "'s", " IT", "'S" })]
    [TestCase("a  \n\n  b", new[] { "a", "  \n\n", " ", " b" })]
    [TestCase("x   ", new[] { "x", "   " })]
    [TestCase("x\r\ny", new[] { "x", "\r\n", "y" })]
    [TestCase("...\n\nz", new[] { "...\n\n", "z" })]
    [TestCase("a𝐀b 𝟏𝟐𝟑𝟒", new[] { "a𝐀b", " ", "𝟏𝟐𝟑", "𝟒" })]
    public void Llama3Matcher(string text, string[] expected)
    {
        var pre = new SplitPreTokenizer(KnownPatternMatcher.Llama3, SplitBehavior.Isolated, invert: false);
        Assert.That(Split(pre, text), Is.EqualTo(expected));
    }

    [TestCase("Hello world", new[] { "Hello", " world" })]
    [TestCase("1234567 x", new[] { "1234567", " x" })]
    [TestCase("it's IT'S", new[] { "it", "'s", " IT", "'", "S" })]
    [TestCase("a  \n\n  b", new[] { "a", "  \n\n ", " b" })]
    [TestCase("a𝐀b", new[] { "a𝐀b" })]
    public void Gpt2Matcher(string text, string[] expected)
    {
        var pre = new SplitPreTokenizer(KnownPatternMatcher.Gpt2, SplitBehavior.Isolated, invert: false);
        Assert.That(Split(pre, text), Is.EqualTo(expected));
    }

    /// <summary>On BMP text, where .NET's engine sees code points, the hand-written matchers must agree with it.</summary>
    [TestCase(KnownPatternMatcher.Gpt2Pattern)]
    [TestCase(KnownPatternMatcher.Llama3Pattern)]
    public void MatchersAgreeWithTheRegexOnRandomText(string pattern)
    {
        var known = KnownPatternMatcher.For(pattern)!;
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        string alphabet = "aZé中ж'sStTrReEvVmMlLdD 1٣½\t\n\r\u00a0\u3000\u2028.,!-_\"<|>\u0301\u200d\u0085\u001f";
        var random = new Random(1234);
        var sb = new StringBuilder();
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            sb.Clear();
            int length = random.Next(0, 24);
            for (int i = 0; i < length; i++) sb.Append(alphabet[random.Next(alphabet.Length)]);
            string text = sb.ToString();
            var mine = new List<Piece>();
            known.Matches(text, mine);
            var theirs = regex.Matches(text).Select(m => new Piece(m.Index, m.Length)).ToList();
            Assert.That(mine, Is.EqualTo(theirs), $"text {System.Text.Json.JsonSerializer.Serialize(text)}");
        }
    }
}
