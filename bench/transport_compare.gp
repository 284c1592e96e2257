set terminal pngcairo size 1400,900 font 'DejaVu Sans,10'
set output 'transport_compare.png'
set multiplot layout 2,2 title 'kcpp vs kcp-go 5.6.1 on loopback (load 1.02 1.91 2.31 -> 2.35 2.54 2.51)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set grid ytics
set yrange [0:*]
set datafile separator '\t'
set xtics rotate by -30 left
set title 'single-session bulk (MB/s, higher is better)'
unset logscale y; set yrange [0:*]
plot 'transport_compare_bulk.dat' using 2:xtic(1) title 'kcpp' lc rgb '#1f77b4', '' using 3 title 'kcp-go 5.6.1' lc rgb '#ff7f0e'
set title '1 KiB echo round trip (us, lower is better)'
set logscale y; set yrange [10:*]
plot 'transport_compare_rtt.dat' using 2:xtic(1) title 'kcpp' lc rgb '#1f77b4', '' using 3 title 'kcp-go 5.6.1' lc rgb '#ff7f0e'
set title 'server CPU, % of a core (lower is better)'
unset logscale y; set yrange [0:*]
plot 'transport_compare_cpu.dat' using 2:xtic(1) title 'kcpp' lc rgb '#1f77b4', '' using 3 title 'kcp-go 5.6.1' lc rgb '#ff7f0e'
set title 'server RSS, MiB (lower is better)'
unset logscale y; set yrange [0:*]
plot 'transport_compare_rss.dat' using 2:xtic(1) title 'kcpp' lc rgb '#1f77b4', '' using 3 title 'kcp-go 5.6.1' lc rgb '#ff7f0e'
unset multiplot
