using System.Data.Common;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Errors;

/// <summary>
/// What may leave a silo as an error. A client deserializes an exception by its type, so an exception whose type lives
/// in an assembly the client lacks (a storage provider's: <c>SqliteException</c>, Azure's <c>RequestFailedException</c>)
/// cannot be read there and fails the whole response. Such causes stay on the silo, logged under a correlation id;
/// what leaves is a <see cref="BrokerException"/> with a code, a message and that id.
/// </summary>
internal static class ClientSafeErrors
{
    private const int SqliteFull = 13;

    /// <summary>ENOSPC on Linux and macOS, as .NET puts it in an <see cref="IOException"/>'s HResult.</summary>
    private const int NoSpaceErrno = 28;

    /// <summary>ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL on Windows, bare and as HRESULTs.</summary>
    private static readonly int[] DiskFullHResults = [0x70, 0x27, unchecked((int)0x80070070), unchecked((int)0x80070027)];

    /// <summary>A short id to find a failure's cause in the silo's log by.</summary>
    public static string NewCorrelationId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    /// <summary>
    /// The error a storage failure gives its callers: <see cref="BrokerErrorCode.StorageFull"/> for a full disk, else
    /// <see cref="BrokerErrorCode.StorageUnavailable"/>; the cause's message is kept, the cause itself is not.
    /// </summary>
    /// <param name="cause">What the storage threw.</param>
    /// <param name="doing">What the broker was doing, as the end of "The broker could not ...".</param>
    /// <param name="correlationId">The id the caller logs <paramref name="cause"/> under.</param>
    public static BrokerException FromStorage(Exception cause, string doing, string correlationId)
    {
        if (cause is BrokerException { InnerException: null })
        {
            return (BrokerException)cause;
        }

        return IsDiskFull(cause)
            ? new BrokerException(BrokerErrorCode.StorageFull,
                $"The broker could not {doing}: its disk is full. Nothing of this request was stored; consumers can still drain queues (silo log: {correlationId}).",
                correlationId)
            : new BrokerException(BrokerErrorCode.StorageUnavailable,
                $"The broker could not {doing}: {cause.GetBaseException().Message} (silo log: {correlationId}).",
                correlationId);
    }

    /// <summary>Whether a failure anywhere in <paramref name="exception"/>'s chain says the disk is full.</summary>
    public static bool IsDiskFull(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case BrokerException { Code: BrokerErrorCode.StorageFull }:
                case SqliteException { SqliteErrorCode: SqliteFull }:
                case Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.DiskFull }:
                case IOException io when io.HResult == NoSpaceErrno || DiskFullHResults.Contains(io.HResult):
                    return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="exception"/> came from a storage provider: a database, Azure Storage or the file system.</summary>
    public static bool IsStorageFailure(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException or IOException or Azure.RequestFailedException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether every client can deserialize <paramref name="exception"/> with its whole chain: its types come from the
    /// runtime, Orleans or the broker's contracts, and a <see cref="BrokerException"/> carries no cause.
    /// </summary>
    public static bool IsReadableByEveryClient(Exception exception)
    {
        if (exception is BrokerException broker)
        {
            return broker.InnerException is null;
        }

        if (!IsSharedAssembly(exception.GetType().Assembly))
        {
            return false;
        }

        if (exception is AggregateException aggregate)
        {
            return aggregate.InnerExceptions.All(IsReadableByEveryClient);
        }

        return exception.InnerException is null || IsReadableByEveryClient(exception.InnerException);
    }

    private static bool IsSharedAssembly(System.Reflection.Assembly assembly)
    {
        if (assembly == typeof(object).Assembly || assembly == typeof(BrokerException).Assembly)
        {
            return true;
        }

        var name = assembly.GetName().Name ?? "";
        return name.StartsWith("Orleans.", StringComparison.Ordinal) || name.StartsWith("System.", StringComparison.Ordinal);
    }
}
