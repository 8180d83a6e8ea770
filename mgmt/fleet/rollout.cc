// Filled in by the fleet work (see the header).
