"""billing: an example service protected with the authserver_rs kit."""
