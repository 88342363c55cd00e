"""The log-shipper: streams each started step's output, masked, into object storage and onto the
live-log subjects, then records LogShipped."""
