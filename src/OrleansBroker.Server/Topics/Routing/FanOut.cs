using OrleansBroker.Errors;

namespace OrleansBroker.Server.Topics.Routing;

/// <summary>
/// Writes each subscription's share of a publish in parallel. What failed for a passing reason (storage unavailable) is
/// tried again, the queues deduplicating what did land, up to <see cref="Attempts"/> times; then, or at once for any
/// other error, the publish fails naming how far it got.
/// </summary>
internal static class FanOut
{
    public const int Attempts = 3;

    /// <param name="topic">The topic, for the error.</param>
    /// <param name="writes">One write per target, named for the error.</param>
    /// <param name="time">The clock the pause between attempts (100 ms, then 200 ms) runs on.</param>
    /// <param name="retrying">Told how many writes failed before each new attempt.</param>
    public static async Task RunAsync(string topic, IReadOnlyList<(string Target, Func<Task> Write)> writes, TimeProvider time, Action<int, int> retrying)
    {
        var pending = writes;
        for (var attempt = 1; ; attempt++)
        {
            var calls = pending.Select(p => (Target: p, Call: p.Write())).ToList();
            try
            {
                await Task.WhenAll(calls.Select(c => c.Call));
                return;
            }
            catch (Exception)
            {
                // Looked at one by one below.
            }

            var failed = calls.Where(c => !c.Call.IsCompletedSuccessfully).ToList();
            var final = failed.Select(c => c.Call.Exception?.GetBaseException()).OfType<BrokerException>()
                .FirstOrDefault(e => e.Code != BrokerErrorCode.StorageUnavailable);
            if (final is not null || attempt == Attempts)
            {
                var stored = writes.Count - failed.Count;
                var first = failed[0].Call.Exception!.GetBaseException();
                var names = string.Join(", ", failed.Select(f => f.Target.Target));
                throw new BrokerException(final?.Code ?? BrokerErrorCode.StorageUnavailable,
                    $"Topic '{topic}': stored in {stored} of {writes.Count} matching subscriptions; not in {names}: {first.Message} " +
                    "Publishing again with the same message id does not duplicate it where it is stored.", (first as BrokerException)?.CorrelationId);
            }

            retrying(failed.Count, attempt);
            await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), time);
            pending = [.. failed.Select(f => f.Target)];
        }
    }
}
