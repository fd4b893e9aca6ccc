//! The analysis and statistics modules against independent oracles: closed forms, committed values of
//! scikit-learn, PySAL/esda, pymannkendall, scipy and statsmodels (`tests/oracle/`), naive reference
//! implementations and exact enumeration. No server and no demo city.

mod emerging_cubes;
mod emerging_mann_kendall;
mod forecast_open_cp;
mod gistar_esda;
mod kde_closed_form;
mod kde_geotiff;
mod kde_sklearn;
mod near_repeat_nrc;
mod relations_networkx;
mod stats_oracles;
mod suppression_props;
