using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Storage;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Hosting;

/// <summary>Hosting the broker the Orleans way: options by Configure, validated at start; storage chosen by one extension method.</summary>
public sealed class BrokerHostingTests
{
    [Fact]
    public async Task Configure_of_BrokerOptions_and_a_second_AddBroker_both_apply_after_the_first()
    {
        await using var cluster = await BrokerCluster.StartAsync(o => o.MaxMessageBytes = 5000, silo: silo =>
        {
            silo.Services.Configure<BrokerOptions>(o => o.MaxMessageBytes = 2000);
            silo.AddBroker(o => o.SegmentMaxMessages = 10);
        });

        var options = cluster.SiloServices.GetRequiredService<IOptions<BrokerOptions>>().Value;
        Assert.Equal(2000, options.MaxMessageBytes);
        Assert.Equal(10, options.SegmentMaxMessages);
        await cluster.Admin.CreateQueueAsync("limited");
        var refused = await Assert.ThrowsAsync<BrokerException>(() => cluster.Broker.PublishAsync("limited", new BrokerMessage(null, new byte[3000])));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, refused.Code);
        Assert.Contains("2000", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_option_set_with_Configure_stops_the_silo_at_start_naming_the_setting()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => BrokerCluster.StartAsync(silo: silo => silo.Services.Configure<BrokerOptions>(o => o.CommitLinger = TimeSpan.FromSeconds(5))));
        var bad = FindBrokerException(failure);
        Assert.Equal(BrokerErrorCode.InvalidOptions, bad.Code);
        Assert.Contains("Broker:CommitLinger", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_without_broker_storage_fails_at_start_saying_how_to_choose_one()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => BrokerCluster.StartAsync(storage: _ => { }));
        var bad = FindBrokerException(failure);
        Assert.Equal(BrokerErrorCode.InvalidOptions, bad.Code);
        Assert.Contains("UseSqliteBrokerStorage()", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Choosing_a_second_kind_of_storage_is_refused_while_configuring()
    {
        using var data = new TestData();
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => BrokerCluster.StartAsync(storage: silo => silo
            .UseSqliteBrokerStorage(o => o.DataDirectory = data.Directory)
            .UseMemoryBrokerStorage()));
        var bad = FindBrokerException(failure);
        Assert.Contains("chosen twice (Sqlite, then Memory)", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reminder_table_the_application_registered_is_kept_and_sqlite_options_bind_per_call()
    {
        using var data = new TestData();
        await using var cluster = await BrokerCluster.StartAsync(storage: silo =>
        {
            silo.Services.AddSingleton<IReminderTable, MemoryReminderTable>();
            silo.UseSqliteBrokerStorage(o => o.DataDirectory = data.Directory).UseSqliteBrokerStorage(o => o.DiskFreeLimit = "0");
        });

        Assert.IsType<MemoryReminderTable>(cluster.SiloServices.GetRequiredService<IReminderTable>());
        var sqlite = cluster.SiloServices.GetRequiredService<IOptions<SqliteBrokerStorageOptions>>().Value;
        Assert.Equal(Path.Combine(data.Directory, "broker.db"), sqlite.SqlitePath);
        Assert.Equal("0", sqlite.DiskFreeLimit);
        await cluster.Admin.CreateQueueAsync("stored");
        await cluster.Broker.PublishAsync("stored", new BrokerMessage(null, Encoding.UTF8.GetBytes("x")));
        Assert.True(File.Exists(sqlite.SqlitePath));
    }

    private static BrokerException FindBrokerException(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is BrokerException broker)
            {
                return broker;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Count > 0)
            {
                return FindBrokerException(aggregate.InnerExceptions[0]);
            }
        }

        throw new Xunit.Sdk.XunitException($"No BrokerException in: {exception}");
    }
}
