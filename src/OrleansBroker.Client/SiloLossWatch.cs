using Microsoft.Extensions.Logging;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Errors;

namespace OrleansBroker.Client;

/// <summary>
/// Fails broker calls (publishes, and the administration calls that answer at once) that a lost silo left without an answer,
/// soon after the loss instead of at Orleans' 30 s response timeout.
/// An Orleans client does not fail a call whose request was already on its way when the silo holding it died: not when the
/// connection to that silo's gateway breaks, and not when a live gateway had forwarded it there (a silo fails the calls it
/// made itself to a silo declared dead, not those it passed on for clients). A producer that confirms in order would stall
/// behind each such call. So whenever a gateway connection of this client closes (a silo died, stopped, or was dropped from
/// the membership table), every call watched here that was in flight at that moment and is still unanswered
/// <see cref="BrokerClientOptions.SiloLossGrace"/> later fails with <see cref="BrokerErrorCode.SiloLost"/>: its outcome is
/// unknown, as after a timeout. Calls that began after the loss are not touched; calls through live silos normally answer
/// well within the grace. Calls that may run long by design (a redrive, a long-polling receive) are not watched.
/// </summary>
internal sealed partial class SiloLossWatch
{
    private readonly TimeSpan _grace;
    private readonly ILogger _logger;

    /// <summary>Cancelled <see cref="_grace"/> after the next gateway connection loss; replaced at each loss.</summary>
    private CancellationTokenSource _sinceLastLoss = new();

    public SiloLossWatch(ILoggerFactory loggers, BrokerClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        _grace = options?.SiloLossGrace ?? BrokerClientOptions.DefaultSiloLossGrace;
        _logger = loggers.CreateLogger("OrleansBroker.Client");
    }

    /// <summary>
    /// <paramref name="call"/>, failed with <see cref="BrokerErrorCode.SiloLost"/> if a silo connection is lost while it runs and it has
    /// no answer <see cref="BrokerClientOptions.SiloLossGrace"/> later, and given up (as <c>WaitAsync</c> does) when
    /// <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public Task<T> Await<T>(Task<T> call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        return call.IsCompleted ? call : AwaitAsync(call, Volatile.Read(ref _sinceLastLoss).Token, cancellationToken);
    }

    /// <inheritdoc cref="Await{T}(Task{T}, CancellationToken)"/>
    public Task Await(Task call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        return call.IsCompleted ? call : AwaitAsync(call, Volatile.Read(ref _sinceLastLoss).Token, cancellationToken);
    }

    /// <summary>A gateway connection of this client closed: calls in flight now get <see cref="BrokerClientOptions.SiloLossGrace"/> to answer.</summary>
    public void OnSiloConnectionLost(int connectionsLeft)
    {
        var lost = Interlocked.Exchange(ref _sinceLastLoss, new CancellationTokenSource());
        lost.CancelAfter(_grace);
        LogSiloConnectionLost(connectionsLeft, _grace);
    }

    private static async Task<T> AwaitAsync<T>(Task<T> call, CancellationToken siloLost, CancellationToken cancellationToken)
    {
        await AwaitAsync((Task)call, siloLost, cancellationToken).ConfigureAwait(false);
        return await call.ConfigureAwait(false);
    }

    private static async Task AwaitAsync(Task call, CancellationToken siloLost, CancellationToken cancellationToken)
    {
        using var either = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(siloLost, cancellationToken) : null;
        try
        {
            await call.WaitAsync(either?.Token ?? siloLost).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (siloLost.IsCancellationRequested && !cancellationToken.IsCancellationRequested && !call.IsCompleted)
        {
            // The call itself runs on until Orleans times it out; its end is of no use to anyone now.
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new BrokerException(BrokerErrorCode.SiloLost,
                "The connection to a silo was lost while this call was in flight, and the call had no answer soon after: the silo that held the queue " +
                "or topic, or the gateway the call went through, is gone. The call may or may not have taken effect; a publish may or may not have " +
                "been stored: publish again with the same message id to be sure without a duplicate.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lost a silo's gateway connection ({ConnectionsLeft} left): calls in flight that have no answer within {Grace} fail with SiloLost")]
    private partial void LogSiloConnectionLost(int connectionsLeft, TimeSpan grace);
}

/// <summary>Tells <see cref="SiloLossWatch"/> when a gateway connection closes.</summary>
internal sealed class SiloLossObserver(SiloLossWatch watch) : IClusterConnectionStatusObserver
{
    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways < previousNumberOfGateways)
        {
            watch.OnSiloConnectionLost(currentNumberOfGateways);
        }
    }

    public void NotifyClusterConnectionLost()
    {
        // Also reported as the count falling to zero.
    }
}
