"""The status page: data (`data`), HTML (`html`) and routes (`routes`), as `probe.report`
splits the month report."""
