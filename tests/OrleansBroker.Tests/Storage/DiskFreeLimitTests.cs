using Microsoft.Data.Sqlite;
using OrleansBroker.Errors;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Storage;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>The disk alarm's setting and the rules for what error may leave a silo: logic only.</summary>
public sealed class DiskFreeLimitTests
{
    [Theory]
    [InlineData("1GiB", 1L << 30, 0)]
    [InlineData("500MB", 500_000_000L, 0)]
    [InlineData("64 MiB", 64L << 20, 0)]
    [InlineData("1048576", 1048576L, 0)]
    [InlineData("1.5KiB", 1536L, 0)]
    [InlineData("5%", 0L, 5)]
    [InlineData("0", 0L, 0)]
    public void A_limit_reads_as_bytes_or_a_share_of_the_disk(string text, long bytes, double percent)
    {
        Assert.True(DiskFreeLimit.TryParse(text, out var limit));
        Assert.Equal(bytes, limit.Bytes);
        Assert.Equal(percent, limit.Percent);
        Assert.Equal(text == "0", limit.IsOff);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("-1GiB")]
    [InlineData("100%")]
    [InlineData("12 parsecs")]
    public void A_bad_limit_stops_the_silo_naming_the_setting(string text)
    {
        Assert.False(DiskFreeLimit.TryParse(text, out _));
        var error = Assert.Throws<BrokerException>(() => new SqliteBrokerStorageOptions { DiskFreeLimit = text }.Validate());
        Assert.Equal(BrokerErrorCode.InvalidOptions, error.Code);
        Assert.Contains("Broker:DiskFreeLimit", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_share_resolves_against_the_disk_size() =>
        Assert.Equal(50L << 20, new DiskFreeLimit(0, 5).Resolve(1000L << 20));

    [Fact]
    public void A_storage_provider_error_is_replaced_by_a_broker_error_without_it()
    {
        var full = new SqliteException("SQLite Error 13: 'database or disk is full'.", 13);
        Assert.False(ClientSafeErrors.IsReadableByEveryClient(full));
        Assert.False(ClientSafeErrors.IsReadableByEveryClient(new BrokerException(BrokerErrorCode.StorageUnavailable, "x", full)));
        Assert.False(ClientSafeErrors.IsReadableByEveryClient(new AggregateException(new InvalidOperationException(), full)));

        var error = ClientSafeErrors.FromStorage(full, "store the change", "abc123");
        Assert.Equal(BrokerErrorCode.StorageFull, error.Code);
        Assert.Null(error.InnerException);
        Assert.Equal("abc123", error.CorrelationId);
        Assert.True(ClientSafeErrors.IsReadableByEveryClient(error));

        var locked = ClientSafeErrors.FromStorage(new SqliteException("SQLite Error 5: 'database is locked'.", 5), "store the change", "abc124");
        Assert.Equal(BrokerErrorCode.StorageUnavailable, locked.Code);
        Assert.Contains("database is locked", locked.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Orleans_and_runtime_errors_pass_as_they_are() =>
        Assert.True(ClientSafeErrors.IsReadableByEveryClient(new TimeoutException("t", new OrleansException("o"))));
}
