set terminal pngcairo size 1400,1000 font 'DejaVu Sans,10' noenhanced
set output 'wan_compare.png'
set multiplot layout 2,1 title 'kcpp, kcp-go 5.6.1 and Linux TCP through linkem (1 BDP drop-tail queue)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set datafile separator '\t'
set datafile missing '-'
set xtics rotate by -15 left
set title 'goodput, % of the link rate (higher is better)'
set yrange [0:110]
plot 'wan_compare_goodput.dat' using 2:xtic(1) title 'kcpp/kcp-go' lc rgb '#1f77b4', '' using 3 title 'kcpp/none' lc rgb '#aec7e8', '' using 4 title 'kcpp/bbr' lc rgb '#17becf', '' using 5 title 'kcp-go' lc rgb '#ff7f0e', '' using 6 title 'tcp-cubic' lc rgb '#2ca02c', '' using 7 title 'tcp-bbr' lc rgb '#d62728'
set title 'ping RTT p99 once the flow is established / base RTT (lower is better; 2 = the full 1-BDP queue)'
set yrange [0:2.5]
plot 'wan_compare_rtt.dat' using 2:xtic(1) title 'kcpp/kcp-go' lc rgb '#1f77b4', '' using 3 title 'kcpp/none' lc rgb '#aec7e8', '' using 4 title 'kcpp/bbr' lc rgb '#17becf', '' using 5 title 'kcp-go' lc rgb '#ff7f0e', '' using 6 title 'tcp-cubic' lc rgb '#2ca02c', '' using 7 title 'tcp-bbr' lc rgb '#d62728'
unset multiplot
