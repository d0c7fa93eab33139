# The chart of docs/BENCHMARKS.md: one-way latency percentiles (64 B) and throughput (64 B)
# per peer, both on logarithmic axes. Called by report.py with the data files and output name:
#   gnuplot -e "latency='...'; throughput='...'; output='...'" chart.gp
set terminal pngcairo size 1400,620 font "DejaVu Sans,10"
set output output
set multiplot layout 1,2 margins 0.07,0.98,0.24,0.92 spacing 0.08,0

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "10^{%L}"
set grid ytics mytics lc rgb "#dddddd"
set xtics rotate by -40 left nomirror
set key top left

set title "One-way latency, 64 B (ping-pong / 2)"
set ylabel "nanoseconds"
set yrange [10:*]
plot latency using 2:xtic(1) title "p50" lc rgb "#2b6cb0", \
     '' using 3 title "p99" lc rgb "#dd6b20", \
     '' using 4 title "p99.9" lc rgb "#c53030"

set title "Throughput, 64 B, one writer to one reader"
set ylabel "records per second"
set yrange [1e4:*]
set style histogram errorbars gap 1 lw 1
plot throughput using 2:3:4:xtic(1) title "median (bars: min–max over runs)" lc rgb "#2f855a"
unset multiplot
