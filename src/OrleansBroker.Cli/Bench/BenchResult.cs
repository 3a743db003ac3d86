using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansBroker.Cli.Bench;

/// <summary>One bench run, printed as one JSON line on stdout. Optional fields are left out when they do not apply.</summary>
internal sealed record BenchResult
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public required string Scenario { get; init; }

    public required long Messages { get; init; }

    public required int Size { get; init; }

    public required int Producers { get; init; }

    public required int Consumers { get; init; }

    public int Subscribers { get; init; }

    public required double ElapsedS { get; init; }

    /// <summary>Messages (or, for fan-out, deliveries) per second over the whole run: published, delivered and acked.</summary>
    public required double ThroughputMsgsPerS { get; init; }

    public double LatencyP50Ms { get; init; }

    public double LatencyP99Ms { get; init; }

    public double LatencyMaxMs { get; init; }

    public long Lost { get; init; }

    public long Duplicates { get; init; }

    public double? PublishMsgsPerS { get; init; }

    public int? Batch { get; init; }

    public int? Inflight { get; init; }

    public int? Prefetch { get; init; }

    /// <summary>True when the consumers used the handler API.</summary>
    public bool? Handler { get; init; }

    public double? RateMsgsPerS { get; init; }

    public long? QueueDepthBefore { get; init; }

    public double? TimeToGatewayS { get; init; }

    public double? TimeToFirstDeliveryS { get; init; }

    public long? AckFailures { get; init; }

    /// <summary>Publish calls tried again after an error (with <c>--retry-publishes</c>).</summary>
    public long? PublishRetries { get; init; }

    /// <summary>Partitions of the bench queue, when more than one.</summary>
    public int? Partitions { get; init; }

    public long? Foreign { get; init; }

    /// <summary>Seconds of unmeasured load of the same shape before the run (<c>--warmup</c>).</summary>
    public double? WarmupS { get; init; }

    /// <summary>Queues of the many-queues scenario, and the rate (per second) of each of its steps.</summary>
    public int? Queues { get; init; }

    public double? CreatesPerS { get; init; }

    public double? ReceivesPerS { get; init; }

    public double? DeletesPerS { get; init; }

    /// <summary>Milliseconds one listing of every queue took (median of three).</summary>
    public double? ListMs { get; init; }

    /// <summary>The broker's resident memory once every queue of the many-queues scenario held its messages.</summary>
    public double? BrokerRssStoredMb { get; init; }

    public double? BrokerRssMb { get; init; }

    /// <summary>
    /// Bytes the broker process wrote to storage over the run (its log, SQLite's WAL and checkpoints, everything) per message
    /// published, with <c>--broker-pid</c> on Linux: what one message costs the disk, whatever the number of subscriptions.
    /// </summary>
    public double? BrokerWrittenBytesPerMsg { get; init; }

    public double? BrokerPeakRssMb { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static double Rate(long count, TimeSpan elapsed) => Math.Round(count / Math.Max(elapsed.TotalSeconds, 1e-6), 0);
}
