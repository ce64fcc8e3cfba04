"""The Neutron v2.0 subset under /network: its own application, version document and errors."""
