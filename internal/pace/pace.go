// Package pace paces load generators (benchmarks and rigs) at a steady
// rate with microsecond precision.
//
// time.Sleep and time.Ticker wake at 1 ms granularity when the process is
// otherwise idle (the runtime's netpoller waits in whole milliseconds), so
// a load of 70,000 records a second paced by them arrives as bursts of 70
// once a millisecond and measures the timer, not the system under load. A
// spinning pacer is precise but takes a P from the workers it measures.
// On Linux a Pacer reads a periodic timerfd through the netpoller, as
// network requests arrive; elsewhere it falls back to a time.Ticker.
package pace
