using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Amqp;
using Amqp.Framing;
using Amqp.Listener;
using Amqp.Types;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// A link a client receives on, from a queue or a subscription: a consumer of that queue whose prefetch is the link's first
/// credit (at most <c>MaxPrefetch</c>), started when that credit arrives. Deliveries go out while the link has credit, in
/// the order the queue leases them; the client's outcome settles each: accepted completes it, released gives it back at
/// once, modified gives it back (after the queue's retry backoff when delivery-failed), rejected dead-letters it with the
/// error as its reason. Every delivery counts as an attempt toward the queue's max attempts, as Service Bus counts them.
/// A pre-settled link (sender settle mode settled) is at most once: each delivery is completed when it is sent. When the
/// link closes, what it holds unsettled goes back to the queue.
/// </summary>
internal sealed class AmqpOutbound(AmqpEdge edge, ListenerLink link, AmqpAddress address, string queue, string principal)
{
    private readonly Lock _lock = new();
    private readonly Queue<Delivery> _waiting = new();
    private readonly ConcurrentDictionary<Message, Delivery> _sent = new(ReferenceEqualityComparer.Instance);
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Task> _settling = [];
    private int _credit;
    private int _linkCredit;
    private bool _started;

    /// <summary>
    /// Waits for credit; ends when the link closes. A client may grant credit before its attach is answered: the link
    /// counted it without telling anyone, so it is taken from the link here.
    /// </summary>
    public void Start()
    {
        link.InitializeSender(OnCredit, OnDisposition, this);
        link.AddClosedCallback((_, _) => _ = StopAsync());
        lock (_lock)
        {
            _linkCredit = unchecked((int)LinkCredit(link));
            _credit = Math.Max(0, _linkCredit);
            Serve();
        }
    }

    /// <summary>
    /// The link closed: once the outcomes the client sent are applied (so a client that accepted and closed sees no
    /// redelivery), the consumer stops and gives back what it still holds.
    /// </summary>
    private async Task StopAsync()
    {
        Task[] settling;
        lock (_lock)
        {
            settling = [.. _settling];
        }

        await Task.WhenAll(settling);
        await _stop.CancelAsync();
    }

    /// <summary>
    /// The receiver changed its credit. The broker keeps the credit the receiver granted itself: AMQP.Net Lite's link
    /// (<c>ListenerLink.OnFlow</c>) sets its own credit to zero whenever a flow lowers the receiver's limit, although the
    /// receiver may still grant some, as Qpid Proton's receivers do when they trim their prefetch after the first
    /// delivery. Taking the link's zero would leave such a receiver waiting for messages the broker never sends.
    /// The receiver's limit is the link's delivery count plus its credit before the flow plus <paramref name="delta"/>,
    /// so what it grants now is that credit plus <paramref name="delta"/>; after a flow that raised the limit the link's own
    /// credit is exact again.
    /// </summary>
    private void OnCredit(int delta, Fields properties, object state)
    {
        lock (_lock)
        {
            var linkCredit = unchecked((int)LinkCredit(link));
            _credit = Math.Max(0, delta > 0 ? linkCredit : _linkCredit + delta);
            _linkCredit = linkCredit;
            Serve();
        }
    }

    /// <summary>Starts the consumer on the first credit, then sends what waits. Under the lock.</summary>
    private void Serve()
    {
        if (!_started && _credit > 0)
        {
            _started = true;
            _ = ConsumeAsync(Math.Clamp(_credit, 1, edge.Options.MaxPrefetch));
        }

        SendWhileCredit();
    }

    /// <summary>The link's credit as AMQP.Net Lite counts it (internal there; read to stay in step with it).</summary>
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Credit")]
    private static extern uint LinkCredit(ListenerLink link);

    private async Task ConsumeAsync(int prefetch)
    {
        await Task.Yield();
        try
        {
            var options = new ConsumerOptions { Prefetch = prefetch };
            await foreach (var delivery in edge.Client.ReadAllAsync(queue, options, _stop.Token))
            {
                lock (_lock)
                {
                    _waiting.Enqueue(delivery);
                    SendWhileCredit();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // The queue was deleted, or the cluster could not serve it: the link ends with the reason; the client attaches again.
            AmqpLog.ConsumeFailed(edge.Logger, exception, principal, address.ToString());
            try
            {
                link.Close(TimeSpan.Zero, AmqpErrors.Error(exception));
            }
            catch (Exception closing) when (closing is AmqpException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    /// <summary>Sends waiting deliveries while there is credit; a drain with nothing left to send ends the credit. Under the lock.</summary>
    private void SendWhileCredit()
    {
        while (_credit > 0 && _waiting.TryDequeue(out var delivery))
        {
            var message = AmqpMessages.ToAmqp(delivery);
            _credit--;
            _linkCredit--;
            if (link.SettleOnSend)
            {
                if (Send(message))
                {
                    Track(SettleAsync(delivery, new Accepted()));
                }
            }
            else
            {
                _sent[message] = delivery;
                if (!Send(message))
                {
                    _sent.TryRemove(message, out _);
                }
            }
        }

        if (link.IsDraining && _waiting.Count == 0)
        {
            _credit = 0;
            _linkCredit = 0;
            link.CompleteDrain();
        }
    }

    /// <summary>Whether the message went out; false when the link closed (its consumer stops and gives back what it holds).</summary>
    private bool Send(Message message)
    {
        try
        {
            link.SendMessage(message);
            edge.Metrics.Sent();
            return true;
        }
        catch (Exception exception) when (exception is AmqpException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    private void OnDisposition(Message message, DeliveryState state, bool settled, object context)
    {
        if (!_sent.TryRemove(message, out var delivery))
        {
            return;
        }

        if (!settled && state is Outcome)
        {
            // The client settles second (receiver settle mode second): the broker settles first, with its outcome.
            try
            {
                link.DisposeMessage(message, state, true);
            }
            catch (Exception exception) when (exception is AmqpException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        Track(SettleAsync(delivery, state));
    }

    private void Track(Task settle)
    {
        lock (_lock)
        {
            _settling.Add(settle);
        }

        settle.ContinueWith(done =>
        {
            lock (_lock)
            {
                _settling.Remove(done);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task SettleAsync(Delivery delivery, DeliveryState? state)
    {
        try
        {
            switch (state)
            {
                case Accepted:
                    await edge.Client.CompleteAsync(delivery);
                    break;
                case Rejected rejected:
                    await edge.Client.DeadLetterAsync(delivery, Reason(rejected.Error));
                    break;
                case Modified { DeliveryFailed: true }:
                    await edge.Client.AbandonAsync(delivery);
                    break;
                default:
                    // Released, modified without delivery-failed, or no outcome (the link closed first): back at once.
                    await edge.Client.AbandonAsync(delivery, TimeSpan.Zero);
                    break;
            }

            edge.Metrics.Settled(state);
        }
        catch (Exception exception)
        {
            // Its lease ended first (the message went to another consumer), or the queue is gone.
            AmqpLog.SettleFailed(edge.Logger, exception, principal, delivery.MessageId);
        }
    }

    private static string Reason(Error? error) => error switch
    {
        null => "rejected over AMQP",
        { Description: { Length: > 0 } description } => $"{(string)error.Condition}: {description}",
        _ => (string)error.Condition,
    };
}
