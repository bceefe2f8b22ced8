//! The model-file reader: any text either fails with an error or gives a
//! model whose predictions for a few histories are numbers (never a panic).
#![no_main]

use cpm::value::Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = Model::from_json(text, "model.json") else {
        return;
    };
    let params = model.bgnbd.params;
    for (x, t_x, t) in [(0.0, 0.0, 10.0), (2.0, 5.0, 30.0), (10.0, 39.0, 39.0)] {
        let p = params.p_alive(x, t_x, t);
        assert!(!p.is_nan() || !params.r.is_finite(), "P(alive) is a number");
        let _ = params.expected_purchases(52.0, x, t_x, t);
    }
});
