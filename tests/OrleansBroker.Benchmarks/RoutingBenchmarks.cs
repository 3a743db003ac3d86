using BenchmarkDotNet.Attributes;
using OrleansBroker.Topics;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// The routing matcher a topic runs per message and subscription: an exact key, a '*' pattern, a '#'
/// pattern, and a subscription filter with a pattern and two header predicates.
/// </summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private const string Key = "orders.eu.web.created";
    private readonly Dictionary<string, string> _headers = new() { ["region"] = "eu-west", ["amount"] = "150", ["tier"] = "gold" };
    private RoutingPattern _exact = null!;
    private RoutingPattern _star = null!;
    private RoutingPattern _hash = null!;
    private HeaderPredicate[] _predicates = null!;

    [GlobalSetup]
    public void Setup()
    {
        _exact = RoutingPattern.Compile(Key);
        _star = RoutingPattern.Compile("orders.*.*.created");
        _hash = RoutingPattern.Compile("orders.#.created");
        _predicates = [new HeaderPredicate("region", HeaderMatch.Prefix, ["eu-"]), new HeaderPredicate("amount", HeaderMatch.Range, Min: 100)];
    }

    [Benchmark(Description = "exact key")]
    public bool Exact() => _exact.Matches(Key);

    [Benchmark(Description = "pattern with *")]
    public bool Star() => _star.Matches(Key);

    [Benchmark(Description = "pattern with #")]
    public bool Hash() => _hash.Matches(Key);

    [Benchmark(Description = "pattern + 2 header predicates")]
    public bool Filter() => _hash.Matches(Key) && _predicates.All(p => p.Matches(_headers));
}
