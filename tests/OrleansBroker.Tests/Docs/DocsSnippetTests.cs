using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Docs;

/// <summary>
/// Every <c>```csharp</c> block of README.md and docs/ compiles against the broker's libraries as they are, as a small
/// program of its own: a snippet that names a method, a type or an option that is gone fails here.
/// </summary>
public sealed partial class DocsSnippetTests
{
    /// <summary>What snippets may take as given: the objects a host has at hand where the snippet would sit.</summary>
    private const string Prelude = """
        public static class DocsPrelude
        {
            public static Microsoft.Extensions.Hosting.HostApplicationBuilder builder => throw null!;
            public static Microsoft.Extensions.Hosting.IHost host => throw null!;
            public static Orleans.Hosting.ISiloBuilder silo => throw null!;
            public static Orleans.Hosting.IClientBuilder client => throw null!;
            public static Microsoft.Extensions.Configuration.IConfiguration configuration => throw null!;
            public static OrleansBroker.Client.IBrokerClient broker => throw null!;
            public static OrleansBroker.Client.IBrokerAdministrationClient admin => throw null!;
            public static byte[] body => throw null!;
        }
        """;

    /// <summary>An SDK project's implicit usings (console app with hosting), then the broker's namespaces.</summary>
    private const string Usings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using System.Text;
        global using System.Text.Json;
        global using Microsoft.Extensions.Configuration;
        global using Microsoft.Extensions.DependencyInjection;
        global using Microsoft.Extensions.Hosting;
        global using Orleans;
        global using Orleans.Hosting;
        global using Orleans.Runtime;
        global using Orleans.Streams;
        global using Orleans.Streams.Core;
        global using OrleansBroker;
        global using OrleansBroker.Client;
        global using OrleansBroker.Client.Hosting;
        global using OrleansBroker.Errors;
        global using OrleansBroker.Messages;
        global using OrleansBroker.Queues;
        global using OrleansBroker.Server.Hosting;
        global using OrleansBroker.Streaming;
        global using OrleansBroker.Topics;
        global using static DocsPrelude;
        """;

    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var page in Pages())
        {
            var count = CSharpBlock().Matches(File.ReadAllText(Path.Combine(RealProcess.RepoRoot, page))).Count;
            for (var i = 0; i < count; i++)
            {
                data.Add(page, i);
            }
        }

        return data;
    }

    [Fact]
    public void The_front_page_and_the_docs_have_snippets_to_check()
    {
        Assert.Contains("README.md", Pages());
        Assert.True(Snippets().Count >= 5, $"only {Snippets().Count} snippets found");
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void A_snippet_compiles_against_the_libraries(string page, int index)
    {
        var snippet = CSharpBlock().Matches(File.ReadAllText(Path.Combine(RealProcess.RepoRoot, page)))[index].Groups[1].Value;
        var compilation = CSharpCompilation.Create($"snippet{index}",
            [Parse(Usings), Parse(Prelude), Parse(snippet)],
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"{page}, snippet {index + 1}:\n{string.Join('\n', errors)}\n---\n{snippet}");
    }

    private static IEnumerable<string> Pages() =>
        [
            "README.md",
            .. Directory.GetFiles(Path.Combine(RealProcess.RepoRoot, "docs"), "*.md").Order(StringComparer.Ordinal).Select(p => Path.Combine("docs", Path.GetFileName(p))),
        ];

    private static SyntaxTree Parse(string code) => CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest));

    /// <summary>
    /// The runtime, every assembly beside the tests (the broker's libraries, Orleans) and the ASP.NET Core shared framework,
    /// which holds the hosting stack since the tests reference the HTTP API.
    /// </summary>
    private static IEnumerable<MetadataReference> References()
    {
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var here = Path.GetDirectoryName(Assembly.GetExecutingAssembly().Location)!;
        var aspNetCore = Path.GetDirectoryName(typeof(Microsoft.Extensions.Hosting.IHost).Assembly.Location)!;
        return Directory.GetFiles(runtime, "*.dll").Concat(Directory.GetFiles(here, "*.dll")).Concat(Directory.GetFiles(aspNetCore, "*.dll"))
            .Where(IsManaged)
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(g => MetadataReference.CreateFromFile(g.First()));
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
