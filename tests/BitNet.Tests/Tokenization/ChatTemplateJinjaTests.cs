using BitNet.Tokenization;
using BitNet.Tokenization.Jinja;

namespace BitNet.Tests.Tokenization;

/// <summary>
/// The chat templates real models ship, rendered for a two-turn conversation and compared with the text written out
/// by hand from each template's definition; the Jinja subset's whitespace rules, scoping and errors.
/// </summary>
public sealed class ChatTemplateJinjaTests
{
    private static readonly ChatMessage[] s_conversation =
    [
        new(ChatRole.User, "What is 2+2?"),
        new(ChatRole.Assistant, "4"),
        new(ChatRole.User, "And 3+3? "),
    ];

    private static readonly ChatMessage[] s_withSystem = [new(ChatRole.System, "You are terse."), .. s_conversation];

    // microsoft/bitnet-b1.58-2B-4T tokenizer_config.json
    private const string BitNet2B4T =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = message['role'] | capitalize + ': '+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";

    // meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json (the JSON's "\\n" is the Jinja escape \n)
    private const string Llama3 =
        """{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}""";

    // meta-llama/Llama-3.1-8B-Instruct tokenizer_config.json, as multi-line Jinja
    private const string Llama31 = """
        {{- bos_token }}
        {%- if custom_tools is defined %}
            {%- set tools = custom_tools %}
        {%- endif %}
        {%- if not tools_in_user_message is defined %}
            {%- set tools_in_user_message = true %}
        {%- endif %}
        {%- if not date_string is defined %}
            {%- set date_string = "26 Jul 2024" %}
        {%- endif %}
        {%- if not tools is defined %}
            {%- set tools = none %}
        {%- endif %}

        {#- This block extracts the system message, so we can slot it into the right place. #}
        {%- if messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content']|trim %}
            {%- set messages = messages[1:] %}
        {%- else %}
            {%- set system_message = "" %}
        {%- endif %}

        {#- System message + builtin tools #}
        {{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
        {%- if builtin_tools is defined or tools is not none %}
            {{- "Environment: ipython\n" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
        {%- endif %}
        {{- "Cutting Knowledge Date: December 2023\n" }}
        {{- "Today Date: " + date_string + "\n\n" }}
        {%- if tools is not none and not tools_in_user_message %}
            {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
            {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
            {{- "Do not use variables.\n\n" }}
            {%- for t in tools %}
                {{- t | tojson(indent=4) }}
                {{- "\n\n" }}
            {%- endfor %}
        {%- endif %}
        {{- system_message }}
        {{- "<|eot_id|>" }}

        {#- Custom tools are passed in a user message with some extra guidance #}
        {%- if tools_in_user_message and not tools is none %}
            {#- Extract the first user message so we can plug it in here #}
            {%- if messages | length != 0 %}
                {%- set first_user_message = messages[0]['content']|trim %}
                {%- set messages = messages[1:] %}
            {%- else %}
                {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
        {%- endif %}
            {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
            {{- "Given the following functions, please respond with a JSON for a function call " }}
            {{- "with its proper arguments that best answers the given prompt.\n\n" }}
            {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
            {{- "Do not use variables.\n\n" }}
            {%- for t in tools %}
                {{- t | tojson(indent=4) }}
                {{- "\n\n" }}
            {%- endfor %}
            {{- first_user_message + "<|eot_id|>"}}
        {%- endif %}

        {%- for message in messages %}
            {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
            {%- elif 'tool_calls' in message %}
                {%- if not message.tool_calls|length == 1 %}
                    {{- raise_exception("This model only supports single tool-calls at once!") }}
                {%- endif %}
                {%- set tool_call = message.tool_calls[0].function %}
                {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
                    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
                    {{- "<|python_tag|>" + tool_call.name + ".call(" }}
                    {%- for arg_name, arg_val in tool_call.arguments | items %}
                        {{- arg_name + '="' + arg_val + '"' }}
                        {%- if not loop.last %}
                            {{- ", " }}
                        {%- endif %}
                        {%- endfor %}
                    {{- ")" }}
                {%- else  %}
                    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
                    {{- '{"name": "' + tool_call.name + '", ' }}
                    {{- '"parameters": ' }}
                    {{- tool_call.arguments | tojson }}
                    {{- "}" }}
                {%- endif %}
                {%- if builtin_tools is defined %}
                    {#- This means we're in ipython mode #}
                    {{- "<|eom_id|>" }}
                {%- else %}
                    {{- "<|eot_id|>" }}
                {%- endif %}
            {%- elif message.role == "tool" or message.role == "ipython" %}
                {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
                {%- if message.content is mapping or message.content is iterable %}
                    {{- message.content | tojson }}
                {%- else %}
                    {{- message.content }}
                {%- endif %}
                {{- "<|eot_id|>" }}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
        {%- endif %}

        """;

    // Qwen/Qwen2-7B-Instruct tokenizer_config.json (ChatML)
    private const string ChatMl =
        """{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}""";

    // Qwen/Qwen2.5-7B-Instruct tokenizer_config.json (ChatML with tools), as multi-line Jinja
    private const string Qwen25 = """
        {%- if tools %}
            {{- '<|im_start|>system\n' }}
            {%- if messages[0]['role'] == 'system' %}
                {{- messages[0]['content'] }}
            {%- else %}
                {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
            {%- endif %}
            {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
            {%- for tool in tools %}
                {{- "\n" }}
                {{- tool | tojson }}
            {%- endfor %}
            {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
        {%- else %}
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
            {%- else %}
                {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
            {%- endif %}
        {%- endif %}
        {%- for message in messages %}
            {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
                {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
                {%- if message.content %}
                    {{- '\n' + message.content }}
                {%- endif %}
                {%- for tool_call in message.tool_calls %}
                    {%- if tool_call.function is defined %}
                        {%- set tool_call = tool_call.function %}
                    {%- endif %}
                    {{- '\n<tool_call>\n{"name": "' }}
                    {{- tool_call.name }}
                    {{- '", "arguments": ' }}
                    {{- tool_call.arguments | tojson }}
                    {{- '}\n</tool_call>' }}
                {%- endfor %}
                {{- '<|im_end|>\n' }}
            {%- elif message.role == "tool" %}
                {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
                    {{- '<|im_start|>user' }}
                {%- endif %}
                {{- '\n<tool_response>\n' }}
                {{- message.content }}
                {{- '\n</tool_response>' }}
                {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
                    {{- '<|im_end|>\n' }}
                {%- endif %}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\n' }}
        {%- endif %}

        """;

    // meta-llama/Llama-2-7b-chat-hf tokenizer_config.json
    private const string Llama2 =
        """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}""";

    // mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json
    private const string Mistral =
        """{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}""";

    private static string Render(string template, IEnumerable<ChatMessage> messages, string bos = "<|begin_of_text|>",
        string eos = "<|end_of_text|>", bool addGenerationPrompt = true) =>
        ChatTemplate.FromJinja(template, bos, eos).Render(messages, addGenerationPrompt);

    [Test]
    public void BitNet2B4TTemplate()
    {
        Assert.That(Render(BitNet2B4T, s_conversation),
            Is.EqualTo("User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>User: And 3+3?<|eot_id|>Assistant: "));
        Assert.That(Render(BitNet2B4T, s_withSystem, addGenerationPrompt: false),
            Is.EqualTo("System: You are terse.<|eot_id|>User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>User: And 3+3?<|eot_id|>"));
    }

    [Test]
    public void Llama3Instruct() =>
        Assert.That(Render(Llama3, s_withSystem), Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n"));

    [Test]
    public void Llama31Instruct()
    {
        Assert.That(Render(Llama31, s_withSystem), Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n"));
        // without a system message the system header still opens, with an empty message
        Assert.That(Render(Llama31, s_conversation[..1], addGenerationPrompt: false), Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"));
    }

    [Test]
    public void ChatMlQwen()
    {
        Assert.That(Render(ChatMl, s_conversation), Is.EqualTo(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            + "<|im_start|>assistant\n4<|im_end|>\n"
            + "<|im_start|>user\nAnd 3+3? <|im_end|>\n"
            + "<|im_start|>assistant\n"));
        Assert.That(Render(ChatMl, s_withSystem[..2], addGenerationPrompt: false), Is.EqualTo(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"));
    }

    [Test]
    public void Qwen25WithAndWithoutTools()
    {
        Assert.That(Render(Qwen25, s_withSystem), Is.EqualTo(
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            + "<|im_start|>assistant\n4<|im_end|>\n"
            + "<|im_start|>user\nAnd 3+3? <|im_end|>\n"
            + "<|im_start|>assistant\n"));

        static Dictionary<string, object?> Obj(params (string K, object? V)[] kv) => kv.ToDictionary(p => p.K, p => p.V);
        var vars = new Dictionary<string, object?>
        {
            ["add_generation_prompt"] = true,
            ["tools"] = new List<object?> { Obj(("type", "function"), ("function", Obj(("name", "get_time"), ("parameters", Obj())))) },
            ["messages"] = new List<object?>
            {
                Obj(("role", "system"), ("content", "You are terse.")),
                Obj(("role", "user"), ("content", "What time is it?")),
                Obj(("role", "assistant"), ("content", ""), ("tool_calls", new List<object?>
                {
                    Obj(("function", Obj(("name", "get_time"), ("arguments", Obj(("tz", "UTC")))))),
                })),
                Obj(("role", "tool"), ("content", "12:00")),
            },
        };
        Assert.That(JinjaTemplate.Parse(Qwen25).Render(vars), Is.EqualTo(
            "<|im_start|>system\nYou are terse.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + "{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": {}}}\n</tools>\n\n"
            + "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
            + "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\nWhat time is it?<|im_end|>\n"
            + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n12:00\n</tool_response><|im_end|>\n"
            + "<|im_start|>assistant\n"));
    }

    [Test]
    public void Llama2AndMistralInst()
    {
        Assert.That(Render(Llama2, s_withSystem, "<s>", "</s>"), Is.EqualTo(
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhat is 2+2? [/INST] 4 </s><s>[INST] And 3+3? [/INST]"));
        Assert.That(Render(Mistral, s_conversation, "<s>", "</s>"), Is.EqualTo(
            "<s>[INST] What is 2+2? [/INST]4</s>[INST] And 3+3?  [/INST]"));
        // the templates' own checks
        var e = Assert.Throws<TemplateException>(() => Render(Mistral, s_withSystem, "<s>", "</s>"))!;
        Assert.That(e.Problem, Does.Contain("Conversation roles must alternate"));
        e = Assert.Throws<TemplateException>(() => Render(Llama2, [s_conversation[0], s_conversation[0]], "<s>", "</s>"))!;
        Assert.That(e.Problem, Does.Contain("Conversation roles must alternate"));
    }

    [Test]
    public void FallbackIsThe2B4TFormatUnchanged()
    {
        var t = ChatTemplate.Fallback;
        Assert.That(t.IsFallback);
        Assert.That(t.Render(s_conversation), Is.EqualTo(ChatTemplate.Format(s_conversation)));
        Assert.That(t.Render(s_conversation), Is.EqualTo(
            "<|begin_of_text|>User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>User: And 3+3? <|eot_id|>Assistant:"));
    }

    private static string Jinja(string template, Dictionary<string, object?>? vars = null) =>
        JinjaTemplate.Parse(template).Render(vars ?? new Dictionary<string, object?>());

    [Test]
    public void WhitespaceRulesOfTransformers()
    {
        var vars = new Dictionary<string, object?> { ["xs"] = new List<object?> { "a", "b" } };
        Assert.Multiple(() =>
        {
            // trim_blocks eats the newline after a block tag; lstrip_blocks the indentation before one; not for {{ }}
            Assert.That(Jinja("{% for x in xs %}\n  {{ x }}\n{% endfor %}\n", vars), Is.EqualTo("  a\n  b\n"));
            Assert.That(Jinja("line\n    {% if true %}yes{% endif %}\n"), Is.EqualTo("line\nyes"));
            Assert.That(Jinja("a  {%- if true -%}  b  {%- endif -%}  c"), Is.EqualTo("abc"));
            Assert.That(Jinja("a {# note #} b {{- ' c ' -}} d"), Is.EqualTo("a  b c d"));
            Assert.That(Jinja("x\n{{ 1 }}\n"), Is.EqualTo("x\n1"));
        });
    }

    [Test]
    public void ExpressionsAndScoping()
    {
        var vars = new Dictionary<string, object?>
        {
            ["messages"] = new List<object?>
            {
                new Dictionary<string, object?> { ["role"] = "user", ["content"] = " hi " },
                new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "yo" },
            },
        };
        Assert.Multiple(() =>
        {
            Assert.That(Jinja("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 'a' ~ 1 ~ none }} {{ -3 | abs }} {{ 2 ** 10 }}"), Is.EqualTo("7 3 2 3.5 a1None 3 1024"));
            Assert.That(Jinja("{{ not 1 == 2 and 'x' in 'xyz' }} {{ [1, 2] == [1, 2] }} {{ 1 == 1.0 }}"), Is.EqualTo("True True True"));
            Assert.That(Jinja("{{ messages | length }} {{ messages[-1].content }} {{ messages[0]['content'] | trim }}|", vars), Is.EqualTo("2 yo hi|"));
            Assert.That(Jinja("{% for m in messages %}{{ loop.index }}{{ loop.first }}{{ loop.last }};{% endfor %}", vars),
                Is.EqualTo("1TrueFalse;2FalseTrue;"));
            Assert.That(Jinja("{{ missing }}|{{ missing | default('d') }}|{{ missing is defined }}|{{ messages[5] is defined }}", vars),
                Is.EqualTo("|d|False|False"));
            // a plain set inside a loop stays there; a namespace carries it out
            Assert.That(Jinja("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for m in messages %}{% set n = n + 1 %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ n }} {{ ns.n }}", vars),
                Is.EqualTo("0 2"));
            Assert.That(Jinja("{% for m in messages if m.role == 'assistant' %}{{ m.content }}{% else %}none{% endfor %}", vars), Is.EqualTo("yo"));
            Assert.That(Jinja("{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}"),
                Is.EqualTo("02"));
            Assert.That(Jinja("{{ 'yes' if messages else 'no' }} {{ messages[1:] | length }} {{ 'abc'[::-1] }}", vars), Is.EqualTo("yes 1 cba"));
            Assert.That(Jinja("{{ {'a': [1, 'x']} | tojson }} {{ ', '.join(['a', 'b']) }} {{ 'A b'.lower().split() }}"),
                Is.EqualTo("{\"a\": [1, \"x\"]} a, b ['a', 'b']"));
        });
    }

    private static TemplateException ParseError(string template) =>
        Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(template))!;

    private static TemplateException RenderError(string template) =>
        Assert.Throws<TemplateException>(() => Jinja(template))!;

    [Test]
    public void SyntaxErrorsNameTheProblemAndPosition()
    {
        Assert.Multiple(() =>
        {
            var e = ParseError("ok\n{% if x %}abc");
            Assert.That(e.Problem, Does.Contain("'if' is never closed with 'endif'"));
            Assert.That((e.Line, e.Column), Is.EqualTo((2, 4)));
            Assert.That(ParseError("{{ 1 + }}").Problem, Does.Contain("ends too soon"));
            e = ParseError("a\n  {% macro m() %}{% endmacro %}");
            Assert.That(e.Problem, Does.Contain("'macro' is not supported"));
            Assert.That((e.Line, e.Column), Is.EqualTo((2, 6)));
            Assert.That(ParseError("{% endfor %}").Problem, Does.Contain("'endfor' without"));
            Assert.That(ParseError("{{ 'abc }}").Problem, Does.Contain("never closed"));
            Assert.That(ParseError("{{ x").Problem, Does.Contain("never closed"));
            Assert.That(ParseError("{% frobnicate %}").Problem, Does.Contain("unknown statement 'frobnicate'"));
            Assert.That(ParseError("{% set x %}y{% endset %}").Problem, Does.Contain("block 'set'"));
            Assert.That(ParseError("{{ a $ b }}").Problem, Does.Contain("unexpected character '$'"));
            Assert.That(ParseError("{# never closed").Problem, Does.Contain("comment"));
            Assert.That(ParseError("{{ " + new string('(', 1000) + "1" + new string(')', 1000) + " }}").Problem, Does.Contain("nested deeper"));
        });
    }

    [Test]
    public void RuntimeErrorsNameTheConstruct()
    {
        Assert.Multiple(() =>
        {
            var e = RenderError("ab\n{{ x | shout }}");
            Assert.That(e.Problem, Does.Contain("filter 'shout' is not supported"));
            Assert.That(e.Line, Is.EqualTo(2));
            Assert.That(RenderError("{{ strftime_now('%Y') }}").Problem, Does.Contain("function 'strftime_now' is not supported"));
            Assert.That(RenderError("{{ x is prime }}").Problem, Does.Contain("test 'prime' is not supported"));
            Assert.That(RenderError("{{ missing.attr }}").Problem, Does.Contain("'missing' is undefined"));
            Assert.That(RenderError("{{ 'a' + 1 }}").Problem, Does.Contain("unsupported operand types for +"));
            Assert.That(RenderError("{{ raise_exception('no system role') }}").Problem, Does.Contain("no system role"));
            Assert.That(RenderError("{% for i in range(10000000) %}{% endfor %}").Problem, Does.Contain("range()"));
        });
    }

    [Test]
    public void ForPicksTheMetadataTemplateFirst()
    {
        var tokenizer = BpeTokenizer.FromJson(TinyTokenizerJson, "t.json");
        Assert.That(ChatTemplate.For(tokenizer).IsFallback, "no template in the files: the fallback");
        tokenizer.ChatTemplateSource = BitNet2B4T;
        var t = ChatTemplate.For(tokenizer);
        Assert.That(t.IsFallback, Is.False);
        Assert.That(t.Source, Is.EqualTo(BitNet2B4T));
        // Microsoft's 2B4T GGUF carries a placeholder its model was not trained on: the 2B4T format stands in
        tokenizer.ChatTemplateSource = "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{% if message['role'] == 'user' %}Human: {{ message['content'] }}\n\nBITNETAssistant: {{ eos_token }}{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}{% endif %}{% endfor %}";
        t = ChatTemplate.For(tokenizer);
        Assert.That(t.IsFallback);
        Assert.That(t.Note, Does.Contain("BITNETAssistant"));
        Assert.That(t.Render(s_conversation), Is.EqualTo(ChatTemplate.Format(s_conversation)));
        tokenizer.ChatTemplateSource = "{% if %}";
        Assert.Throws<TemplateException>(() => ChatTemplate.For(tokenizer), "a broken template is an error, not a fallback");
    }

    private const string TinyTokenizerJson = """
        { "added_tokens": [ { "id": 2, "content": "<|eot_id|>", "special": true } ],
          "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "use_regex": true },
          "model": { "type": "BPE", "vocab": { "a": 0, "b": 1 }, "merges": [] } }
        """;
}
